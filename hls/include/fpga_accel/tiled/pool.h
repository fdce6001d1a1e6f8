// fpga-accel HLS library, tiled engine: pooling layers on the array's lanes.
//
// Window pools (maxpool, avgpool) use the spatial tiles of a convolution with Tm channels side by side
// (a three-stage pipeline over Tm tiles as in depthwise mode: load | pool | output path, each on its
// own buffer halves) and Tn taps a cycle (rows*cols*ceil(KH*KW/Tn) cycles per Tm tile); the input tile with halo is padded
// on chip with pad_value (max) or zp_in (average, whose per-position M and shift account for the
// window's real size):  avg = requantise(sum - KH*KW*zp_in, M[pos], shift[pos]).
// Global pools run over Tm-channel tiles, reading the input in rows x cols tiles, Tn pixels a cycle,
// pixel-major (a pixel's channels of the tile in one burst, pixels.h); every output pixel goes through
// the output path of the convolutions (drain.h);
// global average = requantise(sum - divisor*zp_in, M, shift).
#ifndef FA_TILED_POOL_H
#define FA_TILED_POOL_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/conv.h"
#include "fpga_accel/tiled/drain.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/tiled/pixels.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

// The array on channels c0.. of one spatial tile (input half A) into accumulator half A, Tn taps a
// cycle, the first taps starting from the pool's identity (0, or the input type's minimum for max):
// no fill loop, the stage is its MAC loop.
template <class C, int A>
void pool_mac(const Layer& L, Buffers<C>& b, const Span& s, int c0) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(COMPUTE, b.in[A], b.acc[A], s);
    const bool avg = L.kind == K_AVGPOOL;
    const int k = L.kh * L.kw, cn = imin(L.tm, L.in[0].c - c0);
    const int64_t identity = avg ? 0 : dtype_min(L.in[0].dtype);
pool_taps:
    for (int t0 = 0; t0 < k; t0 += L.tn) {
        Pixel px;
    pool_pixels:
        for (int p = 0; p < s.np; p++, px.next(s.nc)) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            const int corner = px.corner(L, s);
        pool_lanes_m:
            for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
                if (m >= cn) continue;
                int64_t v = t0 == 0 ? identity : (int64_t)b.acc[A][p * cn + m];
            pool_lanes_t:
                for (int tt = 0; tt < FA_TILED_LANES(imin(L.tn, k - t0), C::TN); tt++) {
#pragma HLS UNROLL
                    const int t = t0 + tt;
                    if (t >= k) continue;
                    const int64_t x = b.in[A][(corner + b.taps[t]) * cn + m];
                    v = avg ? v + x : (x > v ? x : v);
                }
                b.acc[A][p * cn + m] = v;
            }
        }
    }
}

// The output path of accumulator half H (channels c0..): drain.h's, pixel by pixel, P lanes an
// iteration, an average requantised with its position's M and shift, a max as it is.
template <class C, int H>
int pool_out(const Layer& L, uint8_t* acts, const Buffers<C>& b, const Span& s, int c0) {
#pragma HLS INLINE
    FA_TILED_TRACE_STAGE(STORE, b.acc[H], 0, s);
    const bool avg = L.kind == K_AVGPOOL;
    const Pending p = pool_pending(s, c0, imin(L.tm, L.in[0].c - c0), avg ? SCALE_POSITION : SCALE_NONE,
                                   avg ? (int64_t)L.kh * L.kw * L.pad_in : 0);
    return drain<C>(L, b, b.acc[H], b.pos_mult, b.pos_shift, acts, acts, p);  // a pool's: acts only
}

// Step j of nt Tm tiles, H = j%2: output path of tile j-2 (half H) | the array on tile j-1 (half 1-H)
// | load of tile j (half H), a split engine's odd halo rows through acts_b (load_rows_split).
template <class C, int H>
int pool_step(const Layer& L, uint8_t* acts, const uint8_t* acts_b, Buffers<C>& b, const Span& s, int j, int nt) {
#pragma HLS INLINE
    FA_TILED_TRACE_STAGE(LOAD, 0, b.in[H], s);  // the load of tile j; the output path and the pool are stages of their own
    const View& x = L.in[0];
    if (j >= 2) {
        const int status = pool_out<C, H>(L, acts, b, s, (j - 2) * L.tm);
        if (status) return status;
    }
    if (j >= 1 && j <= nt) pool_mac<C, 1 - H>(L, b, s, (j - 1) * L.tm);
    if (j >= nt) return S_OK;
    const int c0 = j * L.tm, cn = imin(L.tm, x.c - c0);
    if (C::SPLIT)
        load_rows_split<C>(b.in[H], acts, acts_b, x, s.ya, 1, s.hy, s.xa, 1, s.hx, c0, cn, L.pad_in, cn);
    else
        load_halo<C>(b.in[H], acts, x, s.ya, s.hy, s.xa, s.hx, c0, cn, L.pad_in);
    return S_OK;
}

template <class C>
int window_pool(const Layer& L, const uint8_t* weights, uint8_t* acts, const uint8_t* acts_b, Buffers<C>& b) {
#pragma HLS INLINE  // into run_layer: its drain calls are the conv's instance (drain.h)
    const int nt = (L.in[0].c + L.tm - 1) / L.tm;
    load_tables<C>(L, weights, b);
pool_rows:
    for (int r0 = 0; r0 < L.out.h; r0 += L.rows) {
    pool_cols:
        for (int q0 = 0; q0 < L.out.w; q0 += L.cols) {
            const Span s = span_of(L, r0, q0);
            tap_offsets(L, s.hx, b.taps);
            if (L.kind == K_AVGPOOL) {  // per-position constants, once per spatial tile, a position an iteration
                Pixel px;
            pool_positions:
                for (int p = 0; p < s.np; p++, px.next(s.nc)) {
#pragma HLS PIPELINE II = 1
                    FA_MOVE();
                    const uint64_t pos = (uint64_t)(r0 + px.py) * L.out.w + q0 + px.px;
                    b.pos_mult[p] = (int32_t)at(weights, L.mblk, pos);
                    b.pos_shift[p] = (int8_t)at(weights, L.sblk, pos);
                }
            }
        pool_pipeline:
            for (int j = 0; j <= nt + 1; j++) {
                const int status = j & 1 ? pool_step<C, 1>(L, acts, acts_b, b, s, j, nt) : pool_step<C, 0>(L, acts, acts_b, b, s, j, nt);
                if (status) return status;
            }
        }
    }
    return S_OK;
}

template <class C>
int global_pool(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
#pragma HLS INLINE  // into run_layer: its drain call is the conv's instance (drain.h)
    const View& x = L.in[0];
    const bool avg = L.kind == K_GLOBAL_AVGPOOL;
    load_tables<C>(L, weights, b);
global_channels:
    for (int c0 = 0; c0 < x.c; c0 += L.tm) {
        const int cn = imin(L.tm, x.c - c0);
    global_start:  // the pool's identity, lane-parallel
        for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
            if (m < cn) b.acc[0][m] = avg ? 0 : dtype_min(x.dtype);
        }
    global_rows:
        for (int r0 = 0; r0 < x.h; r0 += L.rows) {
            const int nr = imin(L.rows, x.h - r0);
        global_cols:
            for (int q0 = 0; q0 < x.w; q0 += L.cols) {
                const int nc = imin(L.cols, x.w - q0), np = nr * nc;
            global_pixels:
                for (int p0 = 0; p0 < np; p0 += L.tn) {  // Tn pixels an iteration, each read a bus word an iteration
                    FA_CYCLE();
                // pixel-major: each pixel's cn channels in one burst when the view allows (pixels.h)
                global_lanes_t:
                    for (int tt = 0; tt < FA_TILED_LANES(imin(L.tn, np - p0), C::TN); tt++) {
#pragma HLS UNROLL
                        const int p = p0 + tt;
                        if (p >= np) continue;
                        int64_t v[C::TM];
                        read_pixel<C::AXI_BYTES>(acts, x, r0 + p / nc, q0 + p % nc, c0, cn, v);
                    global_lanes_m:
                        for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
                            if (m >= cn) continue;
                            const int64_t s = b.acc[0][m];
                            b.acc[0][m] = avg ? s + v[m] : (v[m] > s ? v[m] : s);
                        }
                    }
                }
            }
        }
        Span one = {};  // the output's one pixel
        one.nr = one.nc = one.np = 1;
        const Pending p = pool_pending(one, c0, cn, avg ? SCALE_LAYER : SCALE_NONE, avg ? (int64_t)L.divisor * L.pad_in : 0);
        const int status = drain<C>(L, b, b.acc[0], b.pos_mult, b.pos_shift, acts, acts, p);
        if (status) return status;
    }
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_POOL_H
