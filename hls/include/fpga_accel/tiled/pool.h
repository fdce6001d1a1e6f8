// fpga-accel HLS library, tiled engine: pooling layers on the array's lanes.
//
// Window pools (maxpool, avgpool) use the spatial tiles of a convolution with Tm channels side by side
// and Tn taps a cycle (rows*cols*ceil(KH*KW/Tn) cycles per Tm tile); the input tile with halo is padded
// on chip with pad_value (max) or zp_in (average, whose per-position M and shift account for the
// window's real size):  avg = requantise(sum - KH*KW*zp_in, M[pos], shift[pos]).
// Global pools run over Tm-channel tiles, reading the input in rows x cols tiles, Tn pixels a cycle;
// global average = requantise(sum - divisor*zp_in, M, shift).
#ifndef FA_TILED_POOL_H
#define FA_TILED_POOL_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/conv.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

template <class C>
int window_pool(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    const View& x = L.in[0];
    const View& o = L.out;
    const bool avg = L.kind == K_AVGPOOL;
    const int k = L.kh * L.kw;
    load_tables<C>(L, weights, b);
pool_rows:
    for (int r0 = 0; r0 < o.h; r0 += L.rows) {
        const int nr = imin(L.rows, o.h - r0), ya = r0 * L.sh - L.pad_t, hy = halo(nr, L.sh, L.dh, L.kh);
    pool_cols:
        for (int q0 = 0; q0 < o.w; q0 += L.cols) {
            const int nc = imin(L.cols, o.w - q0), xa = q0 * L.sw - L.pad_l, hx = halo(nc, L.sw, L.dw, L.kw);
            const int np = nr * nc;
            if (avg) {  // per-position constants, once per spatial tile
                for (int p = 0; p < np; p++) {
                    const uint64_t pos = (uint64_t)(r0 + p / nc) * o.w + q0 + p % nc;
                    b.mult[p] = (int32_t)at(weights, L.mblk, pos);
                    b.shift[p] = (int8_t)at(weights, L.sblk, pos);
                }
            }
        pool_channels:
            for (int c0 = 0; c0 < x.c; c0 += L.tm) {
                const int cn = imin(L.tm, x.c - c0);
                load_halo(b.in, acts, x, ya, hy, xa, hx, c0, cn, L.pad_in);
                for (int i = 0; i < np * cn; i++) b.acc[i] = avg ? 0 : dtype_min(x.dtype);
            pool_taps:
                for (int t0 = 0; t0 < k; t0 += L.tn) {
                pool_pixels:
                    for (int p = 0; p < np; p++) {
#pragma HLS PIPELINE II = 1
                        FA_CYCLE();
                        const int py = p / nc, px = p % nc;
                    pool_lanes_m:
                        for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
                            if (m >= cn) continue;
                            int64_t s = b.acc[p * cn + m];
                        pool_lanes_t:
                            for (int tt = 0; tt < FA_TILED_LANES(imin(L.tn, k - t0), C::TN); tt++) {
#pragma HLS UNROLL
                                const int t = t0 + tt;
                                if (t >= k) continue;
                                const int ky = t / L.kw, kx = t % L.kw;
                                const int64_t v = b.in[((py * L.sh + ky * L.dh) * hx + px * L.sw + kx * L.dw) * cn + m];
                                s = avg ? s + v : (v > s ? v : s);
                            }
                            b.acc[p * cn + m] = s;
                        }
                    }
                }
                for (int p = 0; p < np; p++) {
                    for (int m = 0; m < cn; m++) {
#pragma HLS PIPELINE II = 1
                        int status = S_OK;
                        int64_t y = b.acc[p * cn + m];
                        if (avg) y = requant<C::ACC_BITS>(y - (int64_t)k * L.pad_in, b.mult[p], b.shift[p], L.zp_out,
                                                          L.lo, L.hi, status);
                        if (!status) status = finish<C>(L, b, acts, y, r0 + p / nc, q0 + p % nc, c0 + m);
                        if (status) return status;
                    }
                }
            }
        }
    }
    return S_OK;
}

template <class C>
int global_pool(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    const View& x = L.in[0];
    const bool avg = L.kind == K_GLOBAL_AVGPOOL;
    load_tables<C>(L, weights, b);
global_channels:
    for (int c0 = 0; c0 < x.c; c0 += L.tm) {
        const int cn = imin(L.tm, x.c - c0);
        for (int m = 0; m < cn; m++) b.acc[m] = avg ? 0 : dtype_min(x.dtype);
    global_rows:
        for (int r0 = 0; r0 < x.h; r0 += L.rows) {
            const int nr = imin(L.rows, x.h - r0);
        global_cols:
            for (int q0 = 0; q0 < x.w; q0 += L.cols) {
                const int nc = imin(L.cols, x.w - q0), np = nr * nc;
            global_pixels:
                for (int p0 = 0; p0 < np; p0 += L.tn) {  // Tn pixels a cycle
#pragma HLS PIPELINE II = 1
                    FA_CYCLE();
                global_lanes_m:
                    for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
                        if (m >= cn) continue;
                        int64_t s = b.acc[m];
                    global_lanes_t:
                        for (int tt = 0; tt < FA_TILED_LANES(imin(L.tn, np - p0), C::TN); tt++) {
#pragma HLS UNROLL
                            const int p = p0 + tt;
                            if (p >= np) continue;
                            const int64_t v = load(acts, addr(x, r0 + p / nc, q0 + p % nc, c0 + m), x.dtype);
                            s = avg ? s + v : (v > s ? v : s);
                        }
                        b.acc[m] = s;
                    }
                }
            }
        }
        for (int m = 0; m < cn; m++) {
            int status = S_OK;
            int64_t y = b.acc[m];
            if (avg) y = requant<C::ACC_BITS>(y - (int64_t)L.divisor * L.pad_in, L.m, L.shift, L.zp_out, L.lo, L.hi, status);
            if (!status) status = finish<C>(L, b, acts, y, 0, 0, c0 + m);
            if (status) return status;
        }
    }
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_POOL_H
