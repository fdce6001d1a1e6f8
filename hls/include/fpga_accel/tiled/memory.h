// fpga-accel HLS library, tiled engine: element access to the two DDR arenas, and the input tile
// with halo.
//
// Both arenas are byte arrays behind m_axi ports; elements are little-endian of the view's or
// block's type. View element (y, x, ch) lies at offset + ((y*w + x)*pixel_stride + ch*channel_stride)
// *itemsize: NHWC, channels fastest, a channel slice of a wider tensor when pixel_stride > c, every
// channel_stride-th channel of one (an input of a shuffled concatenation) when channel_stride > 1
// (docs/tiled.md §1).
// Callers pass only indices inside a checked view or block (checks.h), so no access leaves them.
#ifndef FA_TILED_MEMORY_H
#define FA_TILED_MEMORY_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/descriptor.h"
#include "fpga_accel/tiled/trace.h"

namespace fa {
namespace tiled {

// Element `at` of an arena; `second`: `mem` is the arena's second master (a split engine), which the
// trace is told as the pointer aliases the first in C simulation.
inline int64_t load(const uint8_t* mem, uint64_t at, int dtype, bool second = false) {
#pragma HLS INLINE
    uint64_t u = 0;
    const int n = itemsize(dtype);
    FA_TILED_TRACE_ACCESS_VIA(mem + at, n, 0, second);
    for (int i = 0; i < n; i++) u |= (uint64_t)mem[at + i] << (8 * i);
    switch (dtype) {
        case D_INT8: return (int8_t)u;
        case D_INT16: return (int16_t)u;
        case D_INT32: return (int32_t)u;
        case D_INT64: return (int64_t)u;
        default: return (int64_t)u;  // unsigned types
    }
}

inline void store(uint8_t* mem, uint64_t at, int dtype, int64_t v) {
#pragma HLS INLINE
    const int n = itemsize(dtype);
    FA_TILED_TRACE_ACCESS(mem + at, n, 1);
    for (int i = 0; i < n; i++) mem[at + i] = (uint8_t)((uint64_t)v >> (8 * i));
}

inline uint64_t addr(const View& v, int y, int x, int c) {
    return v.offset + (((uint64_t)y * v.w + x) * v.ps + (uint64_t)c * v.cs) * itemsize(v.dtype);
}

inline int64_t at(const uint8_t* weights, const Block& b, uint64_t i, bool second = false) {
    return load(weights, b.offset + i * itemsize(b.dtype), b.dtype, second);
}

// A split engine reads a dense step's weight run of n elements of `size` bytes in two halves, the
// first through the weights master and the rest through the second one: the first half's elements,
// its bytes half the run's rounded up to 64 (whole bus words on either port), all of a short run.
inline int first_half(int n, int size) {
    const uint64_t nb = (uint64_t)n * size, hb = ((nb + 127) / 128) * 64;
    return (int)((hb < nb ? hb : nb) / size);
}

// The input tile [ya, ya+hy) x [xa, xa+hx) (halo included) of channels [c0, c0+cn) into buf, laid out
// [y][x][c]: the part inside the image read from the arena (one burst per pixel's channels), the
// rest `pad` (padding is made on chip, never read). A pixel takes `stride` elements of buf (cn unless
// given: a resident input keeps all of a group's channels side by side).
inline void load_halo(act_t* buf, const uint8_t* acts, const View& x, int ya, int hy, int xa, int hx, int c0, int cn,
                      int pad, int stride = 0) {
    if (stride <= 0) stride = cn;
halo_y:
    for (int yy = 0; yy < hy; yy++) {
    halo_x:
        for (int xx = 0; xx < hx; xx++) {
            const int iy = ya + yy, ix = xa + xx;
            const bool inside = iy >= 0 && iy < x.h && ix >= 0 && ix < x.w;
        halo_c:
            for (int c = 0; c < cn; c++) {
#pragma HLS PIPELINE II = 1
                buf[(yy * hx + xx) * stride + c] = inside ? (act_t)load(acts, addr(x, iy, ix, c0 + c), x.dtype) : (act_t)pad;
            }
        }
    }
}

// The input pixels a 1x1 convolution's output tile reads, nr x nc of them from (ya, xa) every sy rows
// and sx columns, channels [c0, c0+cn), at `stride` elements a pixel (padding outside the image).
inline void load_sampled(act_t* buf, const uint8_t* acts, const View& x, int ya, int sy, int nr, int xa, int sx, int nc,
                         int c0, int cn, int pad, int stride) {
sampled_y:
    for (int yy = 0; yy < nr; yy++) {
    sampled_x:
        for (int xx = 0; xx < nc; xx++) {
            const int iy = ya + yy * sy, ix = xa + xx * sx;
            const bool inside = iy >= 0 && iy < x.h && ix >= 0 && ix < x.w;
        sampled_c:
            for (int c = 0; c < cn; c++) {
#pragma HLS PIPELINE II = 1
                buf[(yy * nc + xx) * stride + c] = inside ? (act_t)load(acts, addr(x, iy, ix, c0 + c), x.dtype) : (act_t)pad;
            }
        }
    }
}

// A split engine's input rows (load_halo and load_sampled, of a dense convolution only): nr rows of
// nc pixels from (ya, xa) every sy rows and sx columns, channels [c0, c0+cn), at `stride` elements
// a pixel, row yy read through `acts` when even and through `acts_b` when odd. Rows go in pairs, an
// element of each an iteration, so the two masters stream side by side.
inline void load_rows_split(act_t* buf, const uint8_t* acts, const uint8_t* acts_b, const View& x, int ya, int sy,
                            int nr, int xa, int sx, int nc, int c0, int cn, int pad, int stride) {
split_pairs:
    for (int yy = 0; yy < nr; yy += 2) {
        const int ia = ya + yy * sy, ib = ia + sy;
        const bool has_b = yy + 1 < nr, a_rows = ia >= 0 && ia < x.h, b_rows = has_b && ib >= 0 && ib < x.h;
    split_x:
        for (int xx = 0; xx < nc; xx++) {
            const int ix = xa + xx * sx;
            const bool col = ix >= 0 && ix < x.w, a_in = a_rows && col, b_in = b_rows && col;
            act_t* row_a = buf + (yy * nc + xx) * stride;
            act_t* row_b = row_a + nc * stride;
        split_c:
            for (int c = 0; c < cn; c++) {
#pragma HLS PIPELINE II = 1
                row_a[c] = a_in ? (act_t)load(acts, addr(x, ia, ix, c0 + c), x.dtype) : (act_t)pad;
                if (has_b) row_b[c] = b_in ? (act_t)load(acts_b, addr(x, ib, ix, c0 + c), x.dtype, true) : (act_t)pad;
            }
        }
    }
}

inline int imin(int a, int b) { return a < b ? a : b; }

// One spatial tile of a window layer: output rows [r0, r0+nr) x cols [q0, q0+nc) (np pixels) and the
// input span it reads, halo included, before clipping: rows [ya, ya+hy) x cols [xa, xa+hx).
struct Span {
    int r0, q0, nr, nc, np, ya, hy, xa, hx;
};
inline Span span_of(const Layer& L, int r0, int q0) {
    Span s;
    s.r0 = r0;
    s.q0 = q0;
    s.nr = imin(L.rows, L.out.h - r0);
    s.nc = imin(L.cols, L.out.w - q0);
    s.np = s.nr * s.nc;
    s.ya = r0 * L.sh - L.pad_t;
    s.hy = halo(s.nr, L.sh, L.dh, L.kh);
    s.xa = q0 * L.sw - L.pad_l;
    s.hx = halo(s.nc, L.sw, L.dw, L.kw);
    return s;
}
// Offset of every tap (ky, kx) from its window's corner, in pixels of an input tile hx pixels wide,
// computed once per spatial tile so the pipelined loops index with adds instead of divisions.
inline void tap_offsets(const Layer& L, int hx, int32_t* off) {
    int t = 0;
    for (int ky = 0; ky < L.kh; ky++)
        for (int kx = 0; kx < L.kw; kx++) off[t++] = ky * L.dh * hx + kx * L.dw;
}

// Output pixel (py, px) of a spatial tile, stepped row-major by counters (no division by nc).
struct Pixel {
    int py, px;
    Pixel() : py(0), px(0) {}
    void next(int nc) {
        if (++px == nc) {
            px = 0;
            py++;
        }
    }
    // its window's corner in the input tile, in pixels
    int corner(const Layer& L, const Span& s) const { return py * L.sh * s.hx + px * L.sw; }
};

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_MEMORY_H
