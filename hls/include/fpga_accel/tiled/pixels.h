// fpga-accel HLS library, tiled engine: one pixel's channels through a view, and the tile walk the
// elementwise and mul units share.
//
// A pixel's Tm channels [c0, c0+cn) are one DDR run when the view's channel stride is 1. With a
// stride cs > 1 (an input of a shuffled concatenation, docs/tiled.md §1) they lie every cs-th
// element of the span of (cn-1)*cs + 1 elements that covers them:
//   read:  the span in one run, every cs-th element kept, when its beats are fewer than cn (the
//          element bursts' one beat each); else cn element bursts
//   write: read the span, put the cn values in, write it back (two runs), when twice its beats are
//          fewer than cn and it fits SPAN_BYTES; else cn element bursts
// Beats are counted for the worst alignment on a BUS_BYTES bus, so the rule depends on the view and
// cn alone; fpga_accel/tiled/pixel_access.py is the same rule for the cost model and the executor.
// Rewriting the span is safe: the layers run one after another and the bytes between the channels
// are written back as read. The rule bounds both loops by constants: a read span takes fewer beats
// than cn <= TM, so fewer than (TM + 1) * BUS_BYTES bytes; a rewritten one at most SPAN_BYTES. As for
// the other units, whether a pixel's accesses become one wide beat is the tool's call (top.h).
#ifndef FA_TILED_PIXELS_H
#define FA_TILED_PIXELS_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

static const int BUS_BYTES = 64;     // the m_axi data width the arena ports widen to (top.h)
static const int SPAN_BYTES = 4096;  // the on-chip copy of a span a write rewrites

inline uint64_t span_bytes(const View& v, int cn) { return ((uint64_t)(cn - 1) * v.cs + 1) * itemsize(v.dtype); }
inline uint64_t span_beats(uint64_t bytes) { return (bytes + 2 * BUS_BYTES - 2) / BUS_BYTES; }
inline bool reads_span(const View& v, int cn) { return v.cs > 1 && cn > 1 && span_beats(span_bytes(v, cn)) < (uint64_t)cn; }
inline bool writes_span(const View& v, int cn) {
    const uint64_t n = span_bytes(v, cn);
    return v.cs > 1 && cn > 1 && n <= (uint64_t)SPAN_BYTES && 2 * span_beats(n) < (uint64_t)cn;
}

// Channels [c0, c0+cn) of pixel (r, q) of v into vals.
inline void read_pixel(const uint8_t* acts, const View& v, int r, int q, int c0, int cn, int64_t* vals) {
#pragma HLS INLINE
    const int ib = itemsize(v.dtype);
    if (reads_span(v, cn)) {
        const uint64_t at = addr(v, r, q, c0);
        const int n = (cn - 1) * v.cs + 1;
    pixel_span_read:
        for (int j = 0, k = 0, m = 0; j < n; j++) {
            const int64_t x = load(acts, at + (uint64_t)j * ib, v.dtype);
            if (k == 0) vals[m++] = x;
            if (++k == v.cs) k = 0;
        }
        return;
    }
pixel_read:
    for (int m = 0; m < cn; m++) vals[m] = load(acts, addr(v, r, q, c0 + m), v.dtype);
}

// vals into channels [c0, c0+cn) of pixel (r, q) of v (values checked against its type already).
inline void write_pixel(uint8_t* acts, const View& v, int r, int q, int c0, int cn, const int64_t* vals) {
#pragma HLS INLINE
    if (writes_span(v, cn)) {
        static uint8_t span[SPAN_BYTES];
        const uint64_t at = addr(v, r, q, c0), n = span_bytes(v, cn);
        const int ib = itemsize(v.dtype);
    pixel_span_get:
        for (uint64_t i = 0; i < n; i++) span[i] = (uint8_t)load(acts, at + i, D_UINT8);
    pixel_span_put:
        for (int m = 0; m < cn; m++)
            for (int i = 0; i < ib; i++) span[(uint64_t)m * v.cs * ib + i] = (uint8_t)((uint64_t)vals[m] >> (8 * i));
    pixel_span_set:
        for (uint64_t i = 0; i < n; i++) store(acts, at + i, D_UINT8, span[i]);
        return;
    }
pixel_write:
    for (int m = 0; m < cn; m++) store(acts, addr(v, r, q, c0 + m), v.dtype, vals[m]);
}

// The output path of one pixel's cn results (channels c0..): post stages lane by lane, the range
// check, then the pixel's write.
template <class C>
int finish_pixel(const Layer& L, const Buffers<C>& b, uint8_t* acts, int64_t* y, int r, int q, int c0, int cn) {
#pragma HLS INLINE
pixel_post:
    for (int m = 0; m < cn; m++) {
        int status = S_OK;
        y[m] = post_path<C>(L, b, acts, y[m], r, q, c0 + m, status);
        if (status) return status;
        if (y[m] < dtype_min(L.out.dtype) || y[m] > dtype_max(L.out.dtype)) return S_RANGE;
    }
    write_pixel(acts, L.out, r, q, c0, cn, y);
    return S_OK;
}

// The walk of a unit that computes every output element from the same pixel and channel of its
// inputs: spatial tiles, Tm-channel tiles, rows*cols cycles per Tm tile. Per tile U::tile() reads
// its constants; per pixel the first U::inputs() views are read pixel by pixel (read_pixel, view
// after view), U::lane() computes each lane and finish_pixel() writes the pixel.
template <class C, class U>
int pixel_walk(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    const View& o = L.out;
    const int n_in = U::inputs(L);
    load_tables<C>(L, weights, b);
walk_rows:
    for (int r0 = 0; r0 < o.h; r0 += L.rows) {
        const int nr = imin(L.rows, o.h - r0);
    walk_cols:
        for (int q0 = 0; q0 < o.w; q0 += L.cols) {
            const int nc = imin(L.cols, o.w - q0), np = nr * nc;
        walk_channels:
            for (int c0 = 0; c0 < o.c; c0 += L.tm) {
                const int cn = imin(L.tm, o.c - c0);
                U::template tile<C>(L, weights, acts, b, c0, cn);
                Pixel px;
            walk_pixels:
                for (int p = 0; p < np; p++, px.next(nc)) {
#pragma HLS PIPELINE II = 1
                    FA_CYCLE();
                    const int r = r0 + px.py, q = q0 + px.px;
                    int64_t x[MAX_INPUTS][C::TM], y[C::TM];
                walk_inputs:
                    for (int i = 0; i < n_in; i++) read_pixel(acts, L.in[i], r, q, c0, cn, x[i]);
                walk_lanes:
                    for (int m = 0; m < FA_TILED_LANES(cn, C::TM); m++) {
#pragma HLS UNROLL
                        if (m >= cn) continue;
                        int status = S_OK;
                        y[m] = U::template lane<C>(L, b, x, m, status);
                        if (status) return status;
                    }
                    const int status = finish_pixel<C>(L, b, acts, y, r, q, c0, cn);
                    if (status) return status;
                }
            }
        }
    }
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_PIXELS_H
