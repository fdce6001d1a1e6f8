// fpga-accel HLS library, tiled engine: the product of two tensors, rows*cols cycles per Tm tile:
//   mul: requantise((a - zp[0]) * (b - zp[1]), M, shift)   (one M and shift for the layer)
// b has a's shape (x * sigmoid(x)), or is a 1x1xC channel gate (squeeze-excitation) whose Tm values
// are read once per output tile into the per-channel buffer; then the output path (post stages,
// write), as the dataflow engine's channel_mul and mul PEs compute it.
#ifndef FA_TILED_MUL_H
#define FA_TILED_MUL_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

template <class C>
int mul_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    const View& o = L.out;
    const View& a = L.in[0];
    const View& g = L.in[1];
    const bool gate = g.h != a.h || g.w != a.w;  // checked: then 1x1xC
    load_tables<C>(L, weights, b);
mul_rows:
    for (int r0 = 0; r0 < o.h; r0 += L.rows) {
        const int nr = imin(L.rows, o.h - r0);
    mul_cols:
        for (int q0 = 0; q0 < o.w; q0 += L.cols) {
            const int nc = imin(L.cols, o.w - q0), np = nr * nc;
        mul_channels:
            for (int c0 = 0; c0 < o.c; c0 += L.tm) {
                const int cn = imin(L.tm, o.c - c0);
                if (gate) {  // the gate's Tm channels, once per tile
                    for (int m = 0; m < cn; m++) b.pre[m] = (int32_t)load(acts, addr(g, 0, 0, c0 + m), g.dtype);
                }
                Pixel px;
            mul_pixels:
                for (int p = 0; p < np; p++, px.next(nc)) {
#pragma HLS PIPELINE II = 1
                    FA_CYCLE();
                    const int r = r0 + px.py, q = q0 + px.px;
                mul_lanes:
                    for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
                        if (m >= cn) continue;
                        int status = S_OK;
                        const int ch = c0 + m;
                        const int64_t va = load(acts, addr(a, r, q, ch), a.dtype);
                        const int64_t vb = gate ? (int64_t)b.pre[m] : load(acts, addr(g, r, q, ch), g.dtype);
                        int64_t y = requant<C::ACC_BITS>((va - L.zp[0]) * (vb - L.zp[1]), L.m, L.shift, L.zp_out, L.lo,
                                                         L.hi, status);
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

#endif  // FA_TILED_MUL_H
