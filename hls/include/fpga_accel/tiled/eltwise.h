// fpga-accel HLS library, tiled engine: elementwise layers over spatial tiles and Tm-channel tiles,
// rows*cols cycles per Tm tile:
//   add:     requantise(sum_i (q_i - zp_i) * m_i, M = 1, shift)          (Add, Sub, Sum of up to 4)
//   requant: requantise((q - zp_in) * pre[ch], M[ch], shift[ch])         (per-channel Mul, concat inputs)
//   lut:     table[q - in_min]
// then the output path (post stages, write).
#ifndef FA_TILED_ELTWISE_H
#define FA_TILED_ELTWISE_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/conv.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

template <class C>
int eltwise_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    const View& o = L.out;
    load_tables<C>(L, weights, b);
elt_rows:
    for (int r0 = 0; r0 < o.h; r0 += L.rows) {
        const int nr = imin(L.rows, o.h - r0);
    elt_cols:
        for (int q0 = 0; q0 < o.w; q0 += L.cols) {
            const int nc = imin(L.cols, o.w - q0), np = nr * nc;
        elt_channels:
            for (int c0 = 0; c0 < o.c; c0 += L.tm) {
                const int cn = imin(L.tm, o.c - c0);
                if (L.kind == K_REQUANT) {  // per-channel constants, once per tile, block by block (a burst each)
                    for (int m = 0; m < cn; m++) b.pre[m] = (int32_t)at(weights, L.pre, c0 + m);
                    for (int m = 0; m < cn; m++) b.mult[0][m] = (int32_t)at(weights, L.mblk, c0 + m);
                    for (int m = 0; m < cn; m++) b.shift[0][m] = (int8_t)at(weights, L.sblk, c0 + m);
                }
                Pixel px;
            elt_pixels:
                for (int p = 0; p < np; p++, px.next(nc)) {
#pragma HLS PIPELINE II = 1
                    FA_CYCLE();
                    const int r = r0 + px.py, q = q0 + px.px;
                elt_lanes:
                    for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
                        if (m >= cn) continue;
                        int status = S_OK;
                        const int ch = c0 + m;
                        const int64_t v = load(acts, addr(L.in[0], r, q, ch), L.in[0].dtype);
                        int64_t y;
                        if (L.kind == K_ADD) {
                            int64_t acc = 0;
                            for (int i = 0; i < L.n_inputs; i++) {
                                const int64_t qi = i ? load(acts, addr(L.in[i], r, q, ch), L.in[i].dtype) : v;
                                acc += (qi - L.zp[i]) * L.mult[i];
                            }
                            y = requant<C::ACC_BITS>(acc, 1, L.shift, L.zp_out, L.lo, L.hi, status);
                        } else if (L.kind == K_REQUANT) {
                            y = requant<C::ACC_BITS>((v - L.pad_in) * b.pre[m], b.mult[0][m], b.shift[0][m], L.zp_out, L.lo,
                                                     L.hi, status);
                        } else {
                            y = lookup<C>(b, MAX_POST, L.entries, L.in_min, v, status);
                        }
                        if (!status) status = finish<C>(L, b, acts, y, r, q, ch);
                        if (status) return status;
                    }
                }
            }
        }
    }
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_ELTWISE_H
