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
// Ping-pong: in dense mode Tn tile j is loaded into input/weight half j%2 while the array works on
// tile j-1 in the other half, and Tm tile i accumulates into half i%2 while the output path drains
// tile i-1 from the other. In depthwise mode the Tm tiles form a three-stage pipeline: load of tile
// j | the array on tile j-1 | output path of tile j-2, each on its own halves. The stages are separate
// functions (INLINE off) on separate halves, chosen by a template parameter so every index is a
// constant, so synthesis can overlap them; C simulation runs them in order (output path, array,
// load), which gives the executor's results as long as a layer's output shares no bytes with its
// inputs (the builder never does that).
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

// Accumulator half H <- bias for np pixels x tmo channels (from m0); the channels' M and shift.
template <class C, int H>
void start_tile(const Layer& L, const uint8_t* weights, Buffers<C>& b, int m0, int tmo, int np) {
    for (int m = 0; m < tmo; m++) {
        const int64_t bias = at(weights, L.bias, m0 + m);
        b.mult[H][m] = (int32_t)at(weights, L.mblk, m0 + m);
        b.shift[H][m] = (int8_t)at(weights, L.sblk, m0 + m);
    bias_fill:
        for (int p = 0; p < np; p++) {
#pragma HLS PIPELINE II = 1
            b.acc[H][p * tmo + m] = bias;
        }
    }
}

template <class C, int H>
bool acc_in_range(const Buffers<C>& b, int n, int bits) {
    for (int i = 0; i < n; i++)
        if (!fits((int64_t)b.acc[H][i], bits)) return false;
    return true;
}

// The output path of accumulator half H: requantise, post stages, write.
template <class C, int H>
int drain(const Layer& L, const Buffers<C>& b, uint8_t* acts, const Span& s, int m0, int tmo) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(STORE, b.acc[H], 0, s);
    Pixel px;
drain_pixels:
    for (int p = 0; p < s.np; p++, px.next(s.nc)) {
        for (int m = 0; m < tmo; m++) {
#pragma HLS PIPELINE II = 1
            int status = S_OK;
            const int y = requant<C::ACC_BITS>((int64_t)b.acc[H][p * tmo + m], b.mult[H][m], b.shift[H][m], L.zp_out,
                                               L.lo, L.hi, status);
            if (!status) status = finish<C>(L, b, acts, y, s.r0 + px.py, s.q0 + px.px, m0 + m);
            if (status) return status;
        }
    }
    return S_OK;
}

// --- dense and grouped --------------------------------------------------------------------------
// Tn tile j of (group gi, Tm tile o0..o0+tmo): its input channels with halo and its weight block.
template <class C>
void dense_load(const Layer& L, const uint8_t* weights, const uint8_t* acts, const Span& s, int gi, int o0, int tmo,
                int j, act_t* in, wgt_t* w) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(LOAD, 0, in, s);
    const int k = L.kh * L.kw, c0 = j * L.tn, cn = imin(L.tn, L.cg - c0);
    load_halo(in, acts, L.in[0], s.ya, s.hy, s.xa, s.hx, gi * L.cg + c0, cn, L.pad_in);
    const uint64_t base = ((uint64_t)gi * L.mg * L.cg + (uint64_t)o0 * L.cg + (uint64_t)tmo * c0) * k;
dense_weights:
    for (int i = 0; i < k * tmo * cn; i++) {
#pragma HLS PIPELINE II = 1
        w[i] = (wgt_t)at(weights, L.weights, base + i);
    }
}

// The array on one Tn tile of cn channels: every tap, every pixel, tmo x cn products a cycle.
template <class C>
void dense_mac(const Layer& L, const Span& s, int tmo, int cn, const act_t* in, const wgt_t* w, const int32_t* taps,
               typename Buffers<C>::acc_t* acc) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(COMPUTE, in, acc, s);
    typedef typename Buffers<C>::acc_t acc_t;
dense_taps:
    for (int t = 0; t < L.kh * L.kw; t++) {
        Pixel px;
    dense_pixels:
        for (int p = 0; p < s.np; p++, px.next(s.nc)) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            const int i0 = (px.corner(L, s) + taps[t]) * cn;
        lanes_m:
            for (int m = 0; m < FA_TILED_LANES(tmo, C::TM); m++) {
#pragma HLS UNROLL
                if (m >= tmo) continue;
                acc_t sum = acc[p * tmo + m];
                const int w0 = (t * tmo + m) * cn;
            lanes_c:
                for (int c = 0; c < FA_TILED_LANES(cn, C::TN); c++) {
#pragma HLS UNROLL
                    if (c >= cn) continue;
                    sum += (acc_t)in[i0 + c] * w[w0 + c];
                }
                acc[p * tmo + m] = sum;
            }
        }
    }
}

// Tm tile (gi, o0) into accumulator half H, its Tn tiles ping-ponged through the input/weight halves.
template <class C, int H>
int dense_tile(const Layer& L, const uint8_t* weights, const uint8_t* acts, Buffers<C>& b, const Span& s, int gi,
               int o0) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(COMPUTE, 0, b.acc[H], s);  // the bias fill; the loads and products are stages of their own
    const int tmo = imin(L.tm, L.mg - o0), nt = (L.cg + L.tn - 1) / L.tn;
    start_tile<C, H>(L, weights, b, gi * L.mg + o0, tmo, s.np);
dense_pingpong:  // step j: load Tn tile j into half j%2 | the array on tile j-1 in the other half
    for (int j = 0; j <= nt; j++) {
        const int cn = j ? imin(L.tn, L.cg - (j - 1) * L.tn) : 0;
        if (j & 1) {
            if (j < nt) dense_load<C>(L, weights, acts, s, gi, o0, tmo, j, b.in[1], b.w[1]);
            dense_mac<C>(L, s, tmo, cn, b.in[0], b.w[0], b.taps, b.acc[H]);
        } else {
            if (j < nt) dense_load<C>(L, weights, acts, s, gi, o0, tmo, j, b.in[0], b.w[0]);
            if (j) dense_mac<C>(L, s, tmo, cn, b.in[1], b.w[1], b.taps, b.acc[H]);
        }
        if (j && !acc_in_range<C, H>(b, s.np * tmo, L.acc_bits)) return S_ACC;
    }
    return S_OK;
}

// Tm tile i (group gi, o0) into half H | the output path of tile i-1 (channels pm0.., ptmo) from 1-H.
template <class C, int H>
int dense_step(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b, const Span& s, int gi, int o0,
               int pm0, int ptmo) {
    if (ptmo) {
        const int status = drain<C, 1 - H>(L, b, acts, s, pm0, ptmo);
        if (status) return status;
    }
    return dense_tile<C, H>(L, weights, acts, b, s, gi, o0);
}

template <class C>
int dense_span(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b, const Span& s) {
    int i = 0, pm0 = 0, ptmo = 0, status = S_OK;  // ptmo: channels of the tile awaiting its output path
groups:
    for (int gi = 0; gi < L.groups; gi++) {
    dense_out:
        for (int o0 = 0; o0 < L.mg; o0 += L.tm, i++) {
            status = i & 1 ? dense_step<C, 1>(L, weights, acts, b, s, gi, o0, pm0, ptmo)
                           : dense_step<C, 0>(L, weights, acts, b, s, gi, o0, pm0, ptmo);
            if (status) return status;
            pm0 = gi * L.mg + o0;
            ptmo = imin(L.tm, L.mg - o0);
        }
    }
    return i & 1 ? drain<C, 0>(L, b, acts, s, pm0, ptmo) : drain<C, 1>(L, b, acts, s, pm0, ptmo);
}

// --- depthwise ----------------------------------------------------------------------------------
// Tm tile o0 (channels o0..o0+tmo): the input channels they read, with halo, and their kernels.
template <class C>
void dw_load(const Layer& L, const uint8_t* weights, const uint8_t* acts, const Span& s, int o0, act_t* in, wgt_t* w) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(LOAD, 0, in, s);
    const int k = L.kh * L.kw, tmo = imin(L.tm, L.groups * L.mg - o0), ci0 = o0 / L.mg;
    load_halo(in, acts, L.in[0], s.ya, s.hy, s.xa, s.hx, ci0, (o0 + tmo - 1) / L.mg + 1 - ci0, L.pad_in);
dw_weights:
    for (int i = 0; i < tmo * k; i++) {
#pragma HLS PIPELINE II = 1
        w[i] = (wgt_t)at(weights, L.weights, (uint64_t)o0 * k + i);
    }
}

// The array on Tm tile o0 (input/weight half A) into accumulator half A, Tn taps a cycle.
template <class C, int A>
int dw_mac(const Layer& L, const uint8_t* weights, Buffers<C>& b, const Span& s, int o0) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(COMPUTE, b.in[A], b.acc[A], s);
    typedef typename Buffers<C>::acc_t acc_t;
    const int k = L.kh * L.kw, tmo = imin(L.tm, L.groups * L.mg - o0), ci0 = o0 / L.mg;
    const int cn = (o0 + tmo - 1) / L.mg + 1 - ci0;
    start_tile<C, A>(L, weights, b, o0, tmo, s.np);
dw_taps:
    for (int t0 = 0; t0 < k; t0 += L.tn) {
        Pixel px;
    dw_pixels:
        for (int p = 0; p < s.np; p++, px.next(s.nc)) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            const int corner = px.corner(L, s);
        dw_lanes_m:
            for (int m = 0; m < FA_TILED_LANES(tmo, C::TM); m++) {
#pragma HLS UNROLL
                if (m >= tmo) continue;
                const int ch = (o0 + m) / L.mg - ci0;
                acc_t sum = b.acc[A][p * tmo + m];
            dw_lanes_t:
                for (int tt = 0; tt < FA_TILED_LANES(imin(L.tn, k - t0), C::TN); tt++) {
#pragma HLS UNROLL
                    const int t = t0 + tt;
                    if (t >= k) continue;
                    sum += (acc_t)b.in[A][(corner + b.taps[t]) * cn + ch] * b.w[A][m * k + t];
                }
                b.acc[A][p * tmo + m] = sum;
            }
        }
        if (!acc_in_range<C, A>(b, s.np * tmo, L.acc_bits)) return S_ACC;
    }
    return S_OK;
}

// Step j of nt Tm tiles, H = j%2: output path of tile j-2 (half H) | the array on tile j-1 (half 1-H)
// | load of tile j (half H).
template <class C, int H>
int dw_step(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b, const Span& s, int j, int nt) {
    const int nout = L.groups * L.mg;
    if (j >= 2) {
        const int o0 = (j - 2) * L.tm, status = drain<C, H>(L, b, acts, s, o0, imin(L.tm, nout - o0));
        if (status) return status;
    }
    if (j >= 1 && j <= nt) {
        const int status = dw_mac<C, 1 - H>(L, weights, b, s, (j - 1) * L.tm);
        if (status) return status;
    }
    if (j < nt) dw_load<C>(L, weights, acts, s, j * L.tm, b.in[H], b.w[H]);
    return S_OK;
}

template <class C>
int dw_span(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b, const Span& s) {
    const int nt = (L.groups * L.mg + L.tm - 1) / L.tm;
dw_pipeline:
    for (int j = 0; j <= nt + 1; j++) {
        const int status = j & 1 ? dw_step<C, 1>(L, weights, acts, b, s, j, nt) : dw_step<C, 0>(L, weights, acts, b, s, j, nt);
        if (status) return status;
    }
    return S_OK;
}

template <class C>
int conv_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    const bool depthwise = L.groups > 1 && L.cg == 1;
    load_tables<C>(L, weights, b);
spatial_rows:
    for (int r0 = 0; r0 < L.out.h; r0 += L.rows) {
    spatial_cols:
        for (int q0 = 0; q0 < L.out.w; q0 += L.cols) {
            const Span s = span_of(L, r0, q0);
            tap_offsets(L, s.hx, b.taps);
            const int status = depthwise ? dw_span<C>(L, weights, acts, b, s) : dense_span<C>(L, weights, acts, b, s);
            if (status) return status;
        }
    }
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_CONV_H
