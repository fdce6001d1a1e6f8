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

// Element i of a span's run into vals[i / every] when i is a multiple of `every` (a span read keeps
// every cs-th element).
struct Every {
    int64_t* dst;
    int every;
    void operator()(int i, int64_t v) {
        if (i % every == 0) dst[i / every] = v;
    }
};

// Channels [c0, c0+cn) of pixel (r, q) of v into vals, a bus word of W bytes an iteration (memory.h
// move): words(a, cn*s); a span read the words of its span; else, channel-strided, cn iterations.
template <int W>
void read_pixel(const uint8_t* acts, const View& v, int r, int q, int c0, int cn, int64_t* vals) {
#pragma HLS INLINE
    if (reads_span(v, cn)) {
        Every put = {vals, v.cs};
        move<W>(run_move(acts, addr(v, r, q, c0), (cn - 1) * v.cs + 1, v.dtype), put);
        return;
    }
    Into<int64_t> put(vals);
    Move m = run_move(acts, addr(v, r, q, c0), cn, v.dtype);
    m.step = v.cs;
    move<W>(m, put);
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

// The output path of one pixel's cn results (channels c0..), P = out_lanes() lanes an iteration
// (ceil(cn / P) iterations, FA_MOVE each; one lane through a channel-strided view, output_path.h):
// each lane computes its value (V::value: a unit's lane), applies
// the post stages and the range check; then the pixel's write (write_pixel). So a unit's own lanes
// are the output path's P, not Tm. C simulation runs the lanes in order, so the DDR accesses are
// those of an element loop.
template <class C, class V>
int finish_pixel(const Layer& L, const Buffers<C>& b, uint8_t* acts, const V& lanes_of, int r, int q, int c0, int cn) {
#pragma HLS INLINE
    const int lanes = out_lanes<C>(L);
    int64_t y[C::TM];
pixel_words:
    for (int w0 = 0; w0 < cn; w0 += lanes) {
#pragma HLS PIPELINE II = 1
        FA_MOVE();
    pixel_post:
        for (int l = 0; l < FA_TILED_LANES(lanes, C::OUT_LANES); l++) {
#pragma HLS UNROLL
            const int m = w0 + l;
            if (l >= lanes || m >= cn) continue;
            int status = S_OK;
            y[m] = lanes_of.template value<C>(L, m, status);
            if (status) return status;
            y[m] = post_path<C>(L, b, acts, y[m], r, q, c0 + m, status);
            if (status) return status;
            if (y[m] < dtype_min(L.out.dtype) || y[m] > dtype_max(L.out.dtype)) return S_RANGE;
        }
    }
    write_pixel(acts, L.out, r, q, c0, cn, y);
    return S_OK;
}

// A unit's lane values: U::lane() of the pixel's inputs x.
template <class C, class U>
struct UnitLanes {
    const Buffers<C>* b;
    const int64_t (*x)[C::TM];
    template <class>
    int64_t value(const Layer& L, int m, int& status) const {
#pragma HLS INLINE
        return U::template lane<C>(L, *b, x, m, status);
    }
};

// The walk of a unit that computes every output element from the same pixel and channel of its
// inputs: spatial tiles, Tm-channel tiles, rows*cols cycles per Tm tile. Per tile U::tile() reads
// its constants; per pixel the first U::inputs() views are read pixel by pixel (read_pixel, view
// after view) and finish_pixel() computes U::lane() in its P lanes and writes the pixel.
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
            walk_pixels:  // per pixel its reads and its output path (the unit's lanes in it), in turn
                for (int p = 0; p < np; p++, px.next(nc)) {
                    FA_CYCLE();
                    const int r = r0 + px.py, q = q0 + px.px;
                    int64_t x[MAX_INPUTS][C::TM];
                walk_inputs:
                    for (int i = 0; i < n_in; i++) read_pixel<C::AXI_BYTES>(acts, L.in[i], r, q, c0, cn, x[i]);
                    const UnitLanes<C, U> lanes = {&b, x};
                    const int status = finish_pixel<C>(L, b, acts, lanes, r, q, c0, cn);
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
