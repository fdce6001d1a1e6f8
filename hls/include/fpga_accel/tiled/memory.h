// fpga-accel HLS library, tiled engine: element access to the two DDR arenas, and the input tile
// with halo.
//
// Both arenas are byte arrays behind m_axi ports; elements are little-endian of the view's or
// block's type. View element (y, x, ch) lies at offset + ((y*w + x)*pixel_stride + ch*channel_stride)
// *itemsize: NHWC, channels fastest, a channel slice of a wider tensor when pixel_stride > c, every
// channel_stride-th channel of one (an input of a shuffled concatenation) when channel_stride > 1
// (docs/tiled.md §1).
// Callers pass only indices inside a checked view or block (checks.h), so no access leaves them.
// The loads below move a bus word an iteration (docs/tiled.md §5, "Loads").
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

// --- data movers: a bus word an iteration -------------------------------------------------------
// A load moves one bus word of W = C::AXI_BYTES bytes an iteration (FA_MOVE once): the word's elements go
// into the buffer through an unrolled loop of W lanes (one a byte, an element on every itemsize-th).
// The DDR accesses stay element by element in address order, so the runs the trace records, and the
// bursts the m_axi adapter forms from them, are those of an element loop. A Move is one run of
// elements and the iterations it takes:
//   from byte offset a, channel stride 1: words(a, n*s), the bus words it touches;
//   padding (nothing read, `fill` written): ceil(n*s / W), whole words of padding made on chip;
//   a view of channel stride > 1 (`step` elements apart): n, one element an iteration.
struct Move {
    const uint8_t* mem;
    uint64_t a;  // byte offset of element 0 in mem
    int n, dtype, step;
    bool second, pad;
    int64_t fill;
};

inline uint64_t words(uint64_t a, uint64_t nb, int w) { return nb ? (a + nb - 1) / w - a / w + 1 : 0; }

inline Move run_move(const uint8_t* mem, uint64_t a, int n, int dtype, bool second = false) {
    const Move m = {mem, a, n, dtype, 1, second, false, 0};
    return m;
}
inline Move pad_move(int n, int dtype, int64_t fill) {
    const Move m = {0, 0, n, dtype, 1, false, true, fill};
    return m;
}
// Channels [c0, c0+cn) of pixel (y, x) of view v, or `fill` when the pixel lies outside the image.
inline Move pixel_move(const uint8_t* mem, const View& v, int y, int x, int c0, int cn, int64_t fill,
                       bool second = false) {
    if (y < 0 || y >= v.h || x < 0 || x >= v.w) return pad_move(cn, v.dtype, fill);
    Move m = run_move(mem, addr(v, y, x, c0), cn, v.dtype, second);
    m.step = v.cs;
    return m;
}

template <int W>
uint64_t iterations(const Move& m) {
    const uint64_t nb = (uint64_t)m.n * itemsize(m.dtype);
    return m.pad ? (nb + W - 1) / W : m.step != 1 ? (uint64_t)m.n : words(m.a, nb, W);
}

// Iteration k of move m: its elements [i0, i1) to put(i, value), a lane each.
template <int W, class Put>
void move_word(const Move& m, uint64_t k, Put& put) {
#pragma HLS INLINE
    const int s = itemsize(m.dtype);
    int i0 = (int)k, i1 = (int)k + 1;  // a strided view: one element
    if (m.pad) {
        i0 = (int)(k * (W / s));
        i1 = i0 + W / s;
    } else if (m.step == 1) {  // the elements that start in the word [lo, lo + W)
        const uint64_t lo = (m.a / W + k) * W;
        i0 = k == 0 ? 0 : (int)((lo - m.a + s - 1) / s);
        i1 = (int)((lo + W - m.a + s - 1) / s);
    }
    if (i1 > m.n) i1 = m.n;
word_lanes:
    for (int e = 0; e < FA_TILED_LANES(i1 - i0, W); e++) {
#pragma HLS UNROLL
        if (e >= i1 - i0) continue;
        const int i = i0 + e;
        put(i, m.pad ? m.fill : load(m.mem, m.a + (uint64_t)i * m.step * s, m.dtype, m.second));
    }
}

// Move m into put, a bus word an iteration.
template <int W, class Put>
void move(const Move& m, Put& put) {
    const uint64_t n = iterations<W>(m);
move_words:
    for (uint64_t k = 0; k < n; k++) {
#pragma HLS PIPELINE II = 1
        FA_MOVE();
        move_word<W>(m, k, put);
    }
}

// Moves a and b side by side, a word of each an iteration (a split engine's two masters):
// max(iterations of a, of b).
template <int W, class PutA, class PutB>
void move_pair(const Move& a, PutA& pa, const Move& b, PutB& pb) {
    const uint64_t na = iterations<W>(a), nb = iterations<W>(b), n = na > nb ? na : nb;
move_pair_words:
    for (uint64_t k = 0; k < n; k++) {
#pragma HLS PIPELINE II = 1
        FA_MOVE();
        if (k < na) move_word<W>(a, k, pa);
        if (k < nb) move_word<W>(b, k, pb);
    }
}

// Two movers side by side: functions of a DATAFLOW region, each on its own m_axi masters and writing
// its own buffer, which synthesis runs at once, so the pair takes the longer one's iterations. C
// simulation runs them in turn; FA_BESIDE counts what the hardware takes: BEGIN before the first, NEXT
// between them, END after (nothing in synthesis, where FA_MOVE counts nothing either).
#ifndef __SYNTHESIS__
struct Beside {
    unsigned long long start, first;
    Beside() : start(sim::moves()), first(0) {}
    void next() {
        first = sim::moves() - start;
        sim::moves() = start;
    }
    void end() {
        if (sim::moves() - start < first) sim::moves() = start + first;
    }
};
#define FA_BESIDE_BEGIN(b) ::fa::tiled::Beside b
#define FA_BESIDE_NEXT(b) b.next()
#define FA_BESIDE_END(b) b.end()
#else
#define FA_BESIDE_BEGIN(b)
#define FA_BESIDE_NEXT(b)
#define FA_BESIDE_END(b)
#endif

// Element i of a move into dst[i], as T.
template <class T>
struct Into {
    T* dst;
    explicit Into(T* d) : dst(d) {}
    void operator()(int i, int64_t v) { dst[i] = (T)v; }
};

// Block b's elements [i0, i0+n) into dst.
template <int W, class T>
void load_block(const uint8_t* weights, const Block& b, uint64_t i0, int n, T* dst) {
    Into<T> put(dst);
    move<W>(run_move(weights, b.offset + i0 * itemsize(b.dtype), n, b.dtype), put);
}

// The input pixels nr x nc from (ya, xa) every sy rows and sx columns, channels [c0, c0+cn), into buf at
// `stride` elements a pixel, [y][x][c]: those inside the image read from the arena (a pixel's channels
// one run), the rest `pad` (padding is made on chip, never read). A 1x1 convolution's output tile reads
// them sampled (its strides); a halo is the case sy = sx = 1.
template <class C>
void load_sampled(act_t* buf, const uint8_t* acts, const View& x, int ya, int sy, int nr, int xa, int sx, int nc,
                  int c0, int cn, int pad, int stride) {
sampled_y:
    for (int yy = 0; yy < nr; yy++) {
    sampled_x:
        for (int xx = 0; xx < nc; xx++) {
            Into<act_t> put(buf + (yy * nc + xx) * stride);
            move<C::AXI_BYTES>(pixel_move(acts, x, ya + yy * sy, xa + xx * sx, c0, cn, pad), put);
        }
    }
}

// The input tile [ya, ya+hy) x [xa, xa+hx) (halo included) of channels [c0, c0+cn), a pixel taking
// `stride` elements of buf (cn unless given: a resident input keeps all of a group's channels side by side).
template <class C>
void load_halo(act_t* buf, const uint8_t* acts, const View& x, int ya, int hy, int xa, int hx, int c0, int cn, int pad,
               int stride = 0) {
    load_sampled<C>(buf, acts, x, ya, 1, hy, xa, 1, hx, c0, cn, pad, stride > 0 ? stride : cn);
}

// A split engine's input rows (load_halo and load_sampled, of a dense convolution or a window pool): nr rows of
// nc pixels from (ya, xa) every sy rows and sx columns, channels [c0, c0+cn), at `stride` elements
// a pixel, row yy read through `acts` when even and through `acts_b` when odd. Rows go in pairs, a
// column's two pixels side by side, a word of each an iteration, so the two masters stream at once.
template <class C>
void load_rows_split(act_t* buf, const uint8_t* acts, const uint8_t* acts_b, const View& x, int ya, int sy, int nr,
                     int xa, int sx, int nc, int c0, int cn, int pad, int stride) {
split_pairs:
    for (int yy = 0; yy < nr; yy += 2) {
        const int ia = ya + yy * sy, ib = ia + sy;
        const bool has_b = yy + 1 < nr;
    split_x:
        for (int xx = 0; xx < nc; xx++) {
            const int ix = xa + xx * sx;
            Into<act_t> row_a(buf + (yy * nc + xx) * stride), row_b(row_a.dst + nc * stride);
            const Move a = pixel_move(acts, x, ia, ix, c0, cn, pad);
            const Move b = has_b ? pixel_move(acts_b, x, ib, ix, c0, cn, pad, true) : pad_move(0, x.dtype, pad);
            move_pair<C::AXI_BYTES>(a, row_a, b, row_b);
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
