// fpga-accel HLS library, tiled engine: the Tm x Tn array running one conv or gemm layer (a gemm is
// the 1x1 case), dense, grouped or depthwise, in the loop order of docs/tiled.md §2:
//
//   for each spatial tile (rows x cols output pixels, row-major)
//     for each group, for each output-channel tile of Tm
//       accumulators <- bias; M, shift of the tile's channels
//       for each input-channel tile of Tn                      (depthwise mode: none)
//         input tile with halo <- activation arena (padding made on chip from zp_in)
//         weight block [KH][KW][m][c] <- weights arena
//         for each tap, for each pixel (PIPELINE II=1): Tm x Tn products (UNROLL)
//         partial sums checked against acc_bits (S_ACC)
//       output path: requantise, clamp, post stages, write
//
// Depthwise mode (groups > 1, one input channel per group) puts Tm channels side by side and Tn taps
// at a time: rows*cols*ceil(KH*KW/Tn) cycles per Tm tile; dense tiles take rows*cols*KH*KW cycles per
// (Tm, Tn) pair. Those are the cost model's figures (fpga_accel/tiled/cost.py), counted by FA_CYCLE.
#ifndef FA_TILED_CONV_H
#define FA_TILED_CONV_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

inline int imin(int a, int b) { return a < b ? a : b; }

// Accumulators of np pixels x tmo channels (from m0) <- bias; the channels' M and shift on chip.
template <class C>
void start_tile(const Layer& L, const uint8_t* weights, Buffers<C>& b, int m0, int tmo, int np) {
    for (int m = 0; m < tmo; m++) {
        const int64_t bias = at(weights, L.bias, m0 + m);
        b.mult[m] = (int32_t)at(weights, L.mblk, m0 + m);
        b.shift[m] = (int8_t)at(weights, L.sblk, m0 + m);
    bias_fill:
        for (int p = 0; p < np; p++) {
#pragma HLS PIPELINE II = 1
            b.acc[p * tmo + m] = bias;
        }
    }
}

template <class C>
bool acc_in_range(const Buffers<C>& b, int n, int bits) {
    for (int i = 0; i < n; i++)
        if (!fits((int64_t)b.acc[i], bits)) return false;
    return true;
}

// Requantise the accumulator tile and send it down the output path.
template <class C>
int drain(const Layer& L, const Buffers<C>& b, uint8_t* acts, int r0, int q0, int nc, int np, int m0, int tmo) {
    for (int p = 0; p < np; p++) {
        for (int m = 0; m < tmo; m++) {
#pragma HLS PIPELINE II = 1
            int status = S_OK;
            const int y = requant<C::ACC_BITS>((int64_t)b.acc[p * tmo + m], b.mult[m], b.shift[m], L.zp_out, L.lo, L.hi,
                                               status);
            if (!status) status = finish<C>(L, b, acts, y, r0 + p / nc, q0 + p % nc, m0 + m);
            if (status) return status;
        }
    }
    return S_OK;
}

template <class C>
int conv_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    typedef typename Buffers<C>::acc_t acc_t;
    const View& x = L.in[0];
    const View& o = L.out;
    const int k = L.kh * L.kw;
    const bool depthwise = L.groups > 1 && L.cg == 1;
    load_tables<C>(L, weights, b);
spatial_rows:
    for (int r0 = 0; r0 < o.h; r0 += L.rows) {
        const int nr = imin(L.rows, o.h - r0), ya = r0 * L.sh - L.pad_t, hy = halo(nr, L.sh, L.dh, L.kh);
    spatial_cols:
        for (int q0 = 0; q0 < o.w; q0 += L.cols) {
            const int nc = imin(L.cols, o.w - q0), xa = q0 * L.sw - L.pad_l, hx = halo(nc, L.sw, L.dw, L.kw);
            const int np = nr * nc;
            if (depthwise) {
                const int nout = L.groups * L.mg;
            dw_out:
                for (int o0 = 0; o0 < nout; o0 += L.tm) {
                    const int tmo = imin(L.tm, nout - o0), ci0 = o0 / L.mg, cn = (o0 + tmo - 1) / L.mg + 1 - ci0;
                    load_halo(b.in, acts, x, ya, hy, xa, hx, ci0, cn, L.pad_in);
                dw_weights:
                    for (int i = 0; i < tmo * k; i++) {
#pragma HLS PIPELINE II = 1
                        b.w[i] = (wgt_t)at(weights, L.weights, (uint64_t)o0 * k + i);
                    }
                    start_tile<C>(L, weights, b, o0, tmo, np);
                dw_taps:
                    for (int t0 = 0; t0 < k; t0 += L.tn) {  // Tn taps a cycle
                    dw_pixels:
                        for (int p = 0; p < np; p++) {
#pragma HLS PIPELINE II = 1
                            FA_CYCLE();
                            const int py = p / nc, px = p % nc;
                        dw_lanes_m:
                            for (int m = 0; m < FA_TILED_LANES(tmo, C::TM); m++) {
#pragma HLS UNROLL
                                if (m >= tmo) continue;
                                const int ch = (o0 + m) / L.mg - ci0;
                                acc_t sum = b.acc[p * tmo + m];
                            dw_lanes_t:
                                for (int tt = 0; tt < FA_TILED_LANES(imin(L.tn, k - t0), C::TN); tt++) {
#pragma HLS UNROLL
                                    const int t = t0 + tt;
                                    if (t >= k) continue;
                                    const int ky = t / L.kw, kx = t % L.kw;
                                    const int i = ((py * L.sh + ky * L.dh) * hx + px * L.sw + kx * L.dw) * cn + ch;
                                    sum += (acc_t)b.in[i] * b.w[m * k + t];
                                }
                                b.acc[p * tmo + m] = sum;
                            }
                        }
                        if (!acc_in_range<C>(b, np * tmo, L.acc_bits)) return S_ACC;
                    }
                    const int s = drain<C>(L, b, acts, r0, q0, nc, np, o0, tmo);
                    if (s) return s;
                }
                continue;
            }
        groups:
            for (int gi = 0; gi < L.groups; gi++) {
            dense_out:
                for (int o0 = 0; o0 < L.mg; o0 += L.tm) {
                    const int tmo = imin(L.tm, L.mg - o0), m0 = gi * L.mg + o0;
                    start_tile<C>(L, weights, b, m0, tmo, np);
                dense_in:
                    for (int c0 = 0; c0 < L.cg; c0 += L.tn) {
                        const int cn = imin(L.tn, L.cg - c0);
                        load_halo(b.in, acts, x, ya, hy, xa, hx, gi * L.cg + c0, cn, L.pad_in);
                        const uint64_t base = ((uint64_t)gi * L.mg * L.cg + (uint64_t)o0 * L.cg + (uint64_t)tmo * c0) * k;
                    dense_weights:
                        for (int i = 0; i < k * tmo * cn; i++) {
#pragma HLS PIPELINE II = 1
                            b.w[i] = (wgt_t)at(weights, L.weights, base + i);
                        }
                    dense_taps:
                        for (int t = 0; t < k; t++) {
                            const int ky = t / L.kw, kx = t % L.kw;
                        dense_pixels:
                            for (int p = 0; p < np; p++) {
#pragma HLS PIPELINE II = 1
                                FA_CYCLE();
                                const int py = p / nc, px = p % nc;
                                const int i0 = ((py * L.sh + ky * L.dh) * hx + px * L.sw + kx * L.dw) * cn;
                            lanes_m:
                                for (int m = 0; m < FA_TILED_LANES(tmo, C::TM); m++) {
#pragma HLS UNROLL
                                    if (m >= tmo) continue;
                                    acc_t sum = b.acc[p * tmo + m];
                                    const int w0 = (t * tmo + m) * cn;
                                lanes_c:
                                    for (int c = 0; c < FA_TILED_LANES(cn, C::TN); c++) {
#pragma HLS UNROLL
                                        if (c >= cn) continue;
                                        sum += (acc_t)b.in[i0 + c] * b.w[w0 + c];
                                    }
                                    b.acc[p * tmo + m] = sum;
                                }
                            }
                        }
                        if (!acc_in_range<C>(b, np * tmo, L.acc_bits)) return S_ACC;
                    }
                    const int s = drain<C>(L, b, acts, r0, q0, nc, np, m0, tmo);
                    if (s) return s;
                }
            }
        }
    }
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_CONV_H
