// fpga-accel HLS library, tiled engine: the Tm x Tn array running one conv or gemm layer (a gemm is
// the 1x1 case), dense, grouped or depthwise, in the loop order of docs/tiled.md §2:
//
//   for each spatial tile (rows x cols output pixels, row-major)
//     for each group, for each output-channel tile of Tm
//       bias, M, shift of the tile's channels (dense: read with its first step)
//       for each step of G input-channel tiles of Tn               (depthwise mode: none)
//         input tile with halo, the step's channels side by side <- activation arena (padding made
//         on chip from zp_in)
//         the G weight blocks [KH][KW][m][c] <- weights arena (one run)
//         for each of the G tiles: for each tap, for each pixel (PIPELINE II=1): Tm x Tn products
//         (UNROLL), the tile's first tap starting from the bias; at its last tap the pixel's partial
//         sums checked against acc_bits (S_ACC)
//       output path: requantise, clamp, post stages, write
//     (whole pixels, checks.h: the output path once per spatial tile, all its channels a pixel)
//
// Ping-pong: in dense mode a step is loaded into one input/weight half while the array works on the
// step before it in the other (the halves alternate across the Tm tiles of a spatial tile and on
// into the next spatial tile), a Tm tile's bias, M and shift coming with its first step, and Tm
// tile i of the layer accumulates into half i%2 while the output path drains tile i-1 from the
// other, also when tile i is the first of the next spatial tile: the pipeline does not drain
// between spatial tiles, so a spatial tile's first load overlaps the array on the tile before it
// and its last output path the next tile's first steps. With whole pixels (checks.h) spatial tile
// n accumulates all of its Tm tiles side by side in half n%2 and its output path runs beside the
// next spatial tile's steps. The dense array reads no per-tile table (its tap offsets come from the
// span it is given), so nothing but the halves is shared; a resident input (below) lives in input
// half n%2 for spatial tile n, so the next tile's first load of it overlaps the array on this one
// (where the layer mixes resident and loaded tiles, the cost model and the timed simulation let a
// tile's first load wait for the array on the tile before). In depthwise mode
// the Tm tiles form a three-stage pipeline: load of tile j | the array on tile j-1 | output path of
// tile j-2, each on its own halves. The stages are separate functions (INLINE off) on separate
// halves, chosen by a template parameter so every index is a constant, so synthesis can overlap
// them; C simulation runs them in order (output path, array, load), which gives the executor's
// results as long as a layer's output shares no bytes with its inputs (the builder never does that).
//
// Depthwise mode (groups > 1, one input channel per group) puts Tm channels side by side and Tn taps
// at a time: rows*cols*ceil(KH*KW/Tn) cycles per Tm tile; dense tiles take rows*cols*KH*KW cycles per
// (Tm, Tn) pair. Tap-parallel convolutions (checks.h: where it saves cycles and fits) take
// rows*cols*ceil(KH*KW*cg/Tn) per Tm tile from an im2col input tile; a resident input is read once per
// spatial tile and group; a 1x1 convolution loads only the pixels it reads. Those are the cost model's
// figures (fpga_accel/tiled/cost.py, tiles.py), counted by FA_CYCLE.
//
// The array stage is its MAC loop (the same in every mode): the accumulators need no bias fill (the
// first products add to the bias), the acc_bits check is made in the pipelined loop as each pixel
// completes a Tn tile and OR-ed into the stage's status, and a Tm tile's M and shift are copied in
// one lane-parallel step; no loop of pixels x channels runs beside the FA_CYCLE iterations.
#ifndef FA_TILED_CONV_H
#define FA_TILED_CONV_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/drain.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/tiled/pack.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

// A dense Tm tile's constants, read with its first step into that step's half q (the array then finds
// them on chip): the bias of channels m0..m0+tmo, and their M and shift unless the layer holds them
// (whole pixels); one run a block, a bus word an iteration.
template <class C>
void load_tile_consts(const Layer& L, const uint8_t* weights, Buffers<C>& b, int q, int m0, int tmo, bool held) {
    load_block<C::AXI_BYTES>(weights, L.bias, m0, tmo, b.tile_bias[q]);
    if (held) return;
    load_block<C::AXI_BYTES>(weights, L.mblk, m0, tmo, b.tile_mult[q]);
    load_block<C::AXI_BYTES>(weights, L.sblk, m0, tmo, b.tile_shift[q]);
}

// Whole pixels (checks.h): M and shift of every output channel, read once per layer block by block, a
// bus word an iteration.
template <class C>
void load_channel_consts(const Layer& L, const uint8_t* weights, Buffers<C>& b) {
    load_block<C::AXI_BYTES>(weights, L.mblk, 0, L.out.c, b.pos_mult);
    load_block<C::AXI_BYTES>(weights, L.sblk, 0, L.out.c, b.pos_shift);
}

// The output path of `p` (drain.h) from accumulator half H: a Tm tile with its M and shift (mult[H],
// shift[H]) or, with whole pixels (checks.h), a whole spatial tile with the layer's (pos_mult,
// pos_shift). Its call sites, one a half and mode, are one instance of drain (tiled_engine.h).
template <class C, int H>
int drain_half(const Layer& L, const Buffers<C>& b, uint8_t* acts, const uint8_t* acts_b, const Pending& p) {
#pragma HLS INLINE
    if (!p.tmo) return S_OK;
    FA_TILED_TRACE_STAGE(STORE, b.acc[H], 0, p.s);
    return p.whole ? drain<C>(L, b, b.acc[H], b.pos_mult, b.pos_shift, acts, acts_b, p)
                   : drain<C>(L, b, b.acc[H], b.mult[H], b.shift[H], acts, acts_b, p);
}

// --- dense and grouped --------------------------------------------------------------------------
// Resident input: when the halo of all of a group's input channels fits one input half and the group
// has more than one Tm tile, its first Tm tile loads each Tn tile's channels into their place in
// that half and the later Tm tiles read them from there instead of from DDR again.
template <class C>
bool input_resident(const Layer& L, const Span& s) {
    const uint64_t area = sampled_input(L) ? (uint64_t)s.np : (uint64_t)s.hy * s.hx;
    return !tap_parallel(L, C::INPUT_BUFFER, C::WEIGHT_BUFFER) && !(L.groups > 1 && L.cg == 1) && L.mg > L.tm && area * L.cg <= (uint64_t)C::INPUT_BUFFER;
}

// One pixel's products on the array: acc[m] = (bias ? bias[m] : acc[m]) + sum over c < cn of
// x[c] * w[m*ws + c], m < tmo, so a Tm tile's first products start from its bias (no fill loop).
// With PACK = 2 lanes m and m+1 share each multiply (pack.h). bits > 0: the pixel completes a Tn
// tile here, and the result is whether its lane sums fit `bits` bits (the acc_bits check, made
// where the executor makes it, in the same iteration); else true.
template <class C>
bool array_pixel(typename Buffers<C>::acc_t* acc, const act_t* x, const wgt_t* w, int ws, int tmo, int cn,
                 const int64_t* bias, int bits) {
#pragma HLS INLINE
    typedef typename Buffers<C>::acc_t acc_t;
    bool ok = true;
lanes_m:
    for (int m = 0; m < FA_TILED_LANES(tmo, C::TM); m += C::PACK) {
#pragma HLS UNROLL
        if (m >= tmo) continue;
        const bool pair = C::PACK == 2 && m + 1 < tmo;
        acc_t lo = bias ? acc_t(bias[m]) : acc[m], hi = pair ? (bias ? acc_t(bias[m + 1]) : acc[m + 1]) : acc_t(0);
    lanes_c:
        for (int c = 0; c < FA_TILED_LANES(cn, C::TN); c++) {
#pragma HLS UNROLL
            if (c >= cn) continue;
            if (pair) {
                int64_t a, b;
                pair_mul((int)w[m * ws + c], (int)w[(m + 1) * ws + c], (int)x[c], a, b);
                lo += a;
                hi += b;
            } else {
                lo += (acc_t)x[c] * w[m * ws + c];
            }
        }
        acc[m] = lo;
        if (pair) acc[m + 1] = hi;
        if (bits && (!fits((int64_t)lo, bits) || (pair && !fits((int64_t)hi, bits)))) ok = false;
    }
    return ok;
}

// A dense step's input: channels [c0, c0+cw) of group gi with halo (a 1x1 convolution: the pixels it
// reads) at `stride` elements a pixel, a split engine's odd rows through acts_b (load_rows_split);
// nothing when `load_input` is false (a resident input already holds them).
template <class C>
void dense_input(const Layer& L, const uint8_t* acts, const uint8_t* acts_b, const Span& s, int gi, int c0, int cw,
                 bool load_input, act_t* in, int stride) {
#pragma HLS INLINE off
    if (!load_input) return;
    const bool sampled = sampled_input(L);  // the halo is the sampled case with steps of one
    if (C::SPLIT)
        load_rows_split<C>(in, acts, acts_b, L.in[0], s.ya, sampled ? L.sh : 1, sampled ? s.nr : s.hy, s.xa,
                           sampled ? L.sw : 1, sampled ? s.nc : s.hx, gi * L.cg + c0, cw, L.pad_in, stride);
    else if (sampled)
        load_sampled<C>(in, acts, L.in[0], s.ya, L.sh, s.nr, s.xa, L.sw, s.nc, gi * L.cg + c0, cw, L.pad_in, stride);
    else
        load_halo<C>(in, acts, L.in[0], s.ya, s.hy, s.xa, s.hx, gi * L.cg + c0, cw, L.pad_in, stride);
}

// A dense step's weight run of n elements from element `base` of the weights block; a split engine
// reads its second half (first_half) through weights_b, a word of each half an iteration.
template <class C>
void dense_weights(const Layer& L, const uint8_t* weights, const uint8_t* weights_b, uint64_t base, int n, wgt_t* w) {
#pragma HLS INLINE off
    if (!C::SPLIT) {
        load_block<C::AXI_BYTES>(weights, L.weights, base, n, w);
        return;
    }
    const int size = itemsize(L.weights.dtype), h = first_half(n, size);
    const uint64_t a = L.weights.offset + base * size;
    Into<wgt_t> first(w), second(w + h);
    move_pair<C::AXI_BYTES>(run_move(weights, a, h, L.weights.dtype), first,
                            run_move(weights_b, a + (uint64_t)h * size, n - h, L.weights.dtype, true), second);
}

// A dense step's input and weight movers side by side (Beside): max(input words, weight words)
// iterations. Synthesis must run the two as concurrent DATAFLOW processes: they share no buffer
// (input half, weight half) and no master (acts / acts_b, weights / weights_b), and the region is
// canonical (two calls, no code between them once FA_BESIDE is empty). Not confirmed by a synthesis
// report here: that Vitis HLS accepts the half pointers chosen at run time as the processes' arrays
// without a copy, and overlaps the processes inside the ping-pong loop that calls the load.
template <class C>
void dense_movers(const Layer& L, const uint8_t* weights, const uint8_t* acts, const uint8_t* weights_b,
                  const uint8_t* acts_b, const Span& s, int gi, int c0, int cw, bool load_input, act_t* in, int stride,
                  uint64_t base, int n, wgt_t* w) {
#pragma HLS DATAFLOW
    FA_BESIDE_BEGIN(both);
    dense_input<C>(L, acts, acts_b, s, gi, c0, cw, load_input, in, stride);
    FA_BESIDE_NEXT(both);
    dense_weights<C>(L, weights, weights_b, base, n, w);
    FA_BESIDE_END(both);
}

// Step channels [c0, c0+cw) of (group gi, Tm tile o0) into half q, G Tn tiles (checks.h,
// tiles_per_step): the Tm tile's constants with its first step (c0 = 0), before the rest; then side by
// side (dense_movers) their input channels with halo, pixel-major at `stride` elements a pixel (a
// pixel's cw channels are one run of DDR bytes, a whole row one run when they are all of the pixel's),
// unless `load_input` is false (a resident input already holds them), and their weight blocks,
// consecutive in DDR ([group][Tm tile][Tn tile][tap][m][c]), as one run; all of it a bus word an
// iteration (memory.h): consts + max(input, weights) iterations. A split engine (C::SPLIT) reads the
// input's odd rows through acts_b and the run's second half through weights_b.
template <class C>
void dense_load(const Layer& L, const uint8_t* weights, const uint8_t* acts, const uint8_t* weights_b,
                const uint8_t* acts_b, Buffers<C>& b, const Span& s, int gi, int o0, int tmo, int c0, int cw,
                bool load_input, act_t* in, int stride, wgt_t* w, int q) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(LOAD, 0, w, s);  // the weight half names the step's halves (a resident input has one)
    const int k = L.kh * L.kw;
    if (c0 == 0) load_tile_consts<C>(L, weights, b, q, gi * L.mg + o0, tmo, whole_pixels(L, C::OUTPUT_BUFFER));
    const uint64_t base = ((uint64_t)gi * L.mg * L.cg + (uint64_t)o0 * L.cg + (uint64_t)tmo * c0) * k;
    dense_movers<C>(L, weights, acts, weights_b, acts_b, s, gi, c0, cw, load_input, in, stride, base, k * tmo * cw, w);
}

// The array on one step of cw channels (input `stride` elements a pixel): its Tn tiles in turn, each
// every tap, every pixel, tmo x cn products a cycle into half[a0 + p*as + m] (the trace names the
// half, which a whole-pixel output path waits for in full), from its block at w + KH*KW*tmo*c. The
// Tm tile's first step is given its bias (the tile's constants, read with that step's load), which
// its first tap starts the accumulators from; a pixel's partial sums are checked against acc_bits
// as it completes a Tn tile (its last tap), where the executor checks them, so the stage is its MAC
// loop and nothing else. A tap's offset in the input tile comes from the span (memory.h
// tap_offsets), not from a table the next spatial tile would rewrite while this one still runs.
template <class C>
int dense_mac(const Layer& L, const Span& s, int tmo, int cw, const act_t* in, int stride, const wgt_t* w,
              const int64_t* bias, typename Buffers<C>::acc_t* half, int a0, int as) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(COMPUTE, w, half, s);
    typename Buffers<C>::acc_t* acc = half + a0;
    const bool sampled = sampled_input(L);
    const int k = L.kh * L.kw;
    bool ok = true;
dense_tiles:
    for (int c = 0; c < cw; c += L.tn) {
        const int cn = imin(L.tn, cw - c);
        const wgt_t* wt = w + k * tmo * c;
    dense_taps:
        for (int t = 0; t < k; t++) {
            const int tap = (t / L.kw) * L.dh * s.hx + (t % L.kw) * L.dw;
            const int64_t* start = c == 0 && t == 0 ? bias : 0;  // the Tm tile's first products: from its bias
            const int bits = t == k - 1 ? L.acc_bits : 0;          // the Tn tile's last tap: checked
            Pixel px;
        dense_pixels:
            for (int p = 0; p < s.np; p++, px.next(s.nc)) {
#pragma HLS PIPELINE II = 1
                FA_CYCLE();
                const int at = sampled ? p : px.corner(L, s) + tap;  // a sampled input holds the read pixels only
                ok &= array_pixel<C>(acc + p * as, in + at * stride + c, wt + t * tmo * cn, cn, tmo, cn, start, bits);
            }
        }
        if (!ok) return S_ACC;  // the Tn tile the executor reports
    }
    return S_OK;
}

// Whether a row read (the columns of a group's cg channels inside the image) is one run of DDR bytes:
// the view's pixels hold exactly those channels, contiguous. Else it is read pixel by pixel (a channel
// slice or one group of several: a run a pixel; a channel stride > 1: an element an iteration).
inline bool row_is_run(const Layer& L, const View& x) { return x.cs == 1 && x.ps == L.cg; }

// The halo row of output row py and kernel row ky (input row iy) over its hx columns, left to right:
// all padding when iy is outside the image; else l padding columns left of the image, `inner` columns
// inside it (one run, or pixel by pixel when the row is no run), r padding columns right of it. Every
// im2col slot (pixel px, tap kx) of (py, ky) is reached by exactly one column e = px*sw + kx*dw, so
// the rows' walks fill the whole im2col tile, each slot once. `count` moves (0: no row).
struct TapRow {
    const uint8_t* mem;
    int py, ky, iy, l, inner, r, count;
    bool run, second;
};

inline TapRow tap_row(const Layer& L, const Span& s, const uint8_t* mem, int py, int ky, bool second) {
    const View& x = L.in[0];
    TapRow t = {mem, py, ky, s.ya + py * L.sh + ky * L.dh, s.hx, 0, 0, 1, row_is_run(L, x), second};
    if (t.iy < 0 || t.iy >= x.h) return t;  // one padding move of the whole row
    t.l = s.xa < 0 ? imin(-s.xa, s.hx) : 0;
    t.r = s.xa + s.hx > x.w ? imin(s.xa + s.hx - x.w, s.hx - t.l) : 0;
    t.inner = s.hx - t.l - t.r;
    t.count = (t.l > 0) + (t.inner > 0 ? (t.run ? 1 : t.inner) : 0) + (t.r > 0);
    return t;
}

inline TapRow no_row() {
    const TapRow t = {0, 0, 0, 0, 0, 0, 0, 0, true, false};
    return t;
}

// Move j of row t (group gi's channels) and its first column ix0.
inline Move tap_move(const Layer& L, const Span& s, int gi, const TapRow& t, int j, int& ix0) {
    const View& x = L.in[0];
    const int cg = L.cg, xlo = s.xa + t.l, inside = t.inner > 0 ? (t.run ? 1 : t.inner) : 0;
    const int i = j - (t.l > 0);
    if (i < 0) {
        ix0 = s.xa;
        return pad_move(t.l * cg, x.dtype, L.pad_in);
    }
    if (i >= inside) {
        ix0 = xlo + t.inner;
        return pad_move(t.r * cg, x.dtype, L.pad_in);
    }
    if (t.run) {
        ix0 = xlo;
        return run_move(t.mem, addr(x, t.iy, xlo, gi * cg), t.inner * cg, x.dtype, t.second);
    }
    ix0 = xlo + i;
    return pixel_move(t.mem, x, t.iy, ix0, gi * cg, cg, L.pad_in, t.second);
}

// The im2col slots of an input element v of row t, at column ix and channel c of the group: pixel
// (py, e / sw) through tap (ky, kx), e = ix - xa - kx*dw.
inline void spread_tap(const Layer& L, const Span& s, act_t* in, const TapRow& t, int ix, int c, act_t v) {
#pragma HLS INLINE
    const int ku = L.kh * L.kw * L.cg;
tap_spread:
    for (int kx = 0; kx < L.kw; kx++) {
        const int e = ix - s.xa - kx * L.dw;
        if (e < 0 || e % L.sw || e / L.sw >= s.nc) continue;
        in[(t.py * s.nc + e / L.sw) * ku + (t.ky * L.kw + kx) * L.cg + c] = v;
    }
}

// Element i of a move from column ix0 (cg channels a column) into its im2col slots.
struct TapSpread {
    const Layer& L;
    const Span& s;
    act_t* in;
    const TapRow& t;
    int ix0;
    void operator()(int i, int64_t v) { spread_tap(L, s, in, t, ix0 + i / L.cg, i % L.cg, (act_t)v); }
};

// Where a row's walk is: move j, its word k of n.
template <int W>
struct TapCursor {
    const Layer& L;
    const Span& s;
    act_t* in;
    int gi;
    TapRow t;
    Move m;
    uint64_t k, n;
    int j, ix0;
    TapCursor(const Layer& L_, const Span& s_, act_t* in_, int gi_, const TapRow& t_)
        : L(L_), s(s_), in(in_), gi(gi_), t(t_), k(0), n(0), j(0), ix0(0) {
        open();
    }
    void open() {
        if (j < t.count) {
            m = tap_move(L, s, gi, t, j, ix0);
            n = iterations<W>(m);
        }
    }
    bool busy() const { return j < t.count; }
    void step() {
        if (!busy()) return;
        TapSpread put = {L, s, in, t, ix0};
        move_word<W>(m, k, put);
        if (++k == n) {
            k = 0;
            j++;
            open();
        }
    }
};

// Rows a and b walked side by side, a word of each an iteration (b: a split engine's second master,
// or no row): max(iterations of a, of b).
template <int W>
void tap_walk(TapCursor<W>& a, TapCursor<W>& b) {
tap_row_words:
    while (a.busy() || b.busy()) {
#pragma HLS PIPELINE II = 1
        FA_MOVE();
        a.step();
        b.step();
    }
}

// Where element j of a tap-parallel Tm tile's weight run (its Tn blocks [KH][KW][m][c] one after
// another, all but the last Tn wide) goes in the weight half: pair u for lane m at
// w[((u / tn)*tmo + m)*tn + u % tn].
inline int tap_slot(const Layer& L, int tmo, int j) {
    const int k = L.kh * L.kw, blk = j / (k * tmo * L.tn), c0 = blk * L.tn, cn = imin(L.tn, L.cg - c0);
    const int i = j - blk * k * tmo * L.tn, c = i % cn, m = (i / cn) % tmo, u = (i / (cn * tmo)) * L.cg + c0 + c;
    return ((u / L.tn) * tmo + m) * L.tn + u % L.tn;
}

// Element i of the weight run from its element j0 into its tap_slot.
struct TapSlots {
    const Layer& L;
    wgt_t* w;
    int tmo, j0;
    void operator()(int i, int64_t v) { w[tap_slot(L, tmo, j0 + i)] = (wgt_t)v; }
};

// A tap-parallel tile's im2col input: every (py, ky) halo row walked over its hx columns (tap_row), a
// split engine's rows in pairs, py*KH + ky even through acts and odd through acts_b, side by side.
template <class C>
void tap_input(const Layer& L, const uint8_t* acts, const uint8_t* acts_b, const Span& s, int gi, act_t* in) {
#pragma HLS INLINE off
    const int reads = s.nr * L.kh, step = C::SPLIT ? 2 : 1;
tap_rows_all:
    for (int r = 0; r < reads; r += step) {
        TapCursor<C::AXI_BYTES> a(L, s, in, gi, tap_row(L, s, acts, r / L.kh, r % L.kh, false));
        TapCursor<C::AXI_BYTES> b(L, s, in, gi, C::SPLIT && r + 1 < reads
                                                    ? tap_row(L, s, acts_b, (r + 1) / L.kh, (r + 1) % L.kh, true)
                                                    : no_row());
        tap_walk<C::AXI_BYTES>(a, b);
    }
}

// A tap-parallel Tm tile's weight blocks [KH][KW][m][c], one per Tn tile, consecutive in DDR: one run
// into their tap_slots; a split engine's second half (first_half) through weights_b, side by side.
template <class C>
void tap_weights(const Layer& L, const uint8_t* weights, const uint8_t* weights_b, int gi, int o0, int tmo, wgt_t* w) {
#pragma HLS INLINE off
    const int k = L.kh * L.kw, n = k * tmo * L.cg, size = itemsize(L.weights.dtype);
    const uint64_t a = L.weights.offset + ((uint64_t)gi * L.mg * L.cg + (uint64_t)o0 * L.cg) * k * size;
    if (!C::SPLIT) {
        TapSlots slots = {L, w, tmo, 0};
        move<C::AXI_BYTES>(run_move(weights, a, n, L.weights.dtype), slots);
        return;
    }
    const int h = first_half(n, size);
    TapSlots first = {L, w, tmo, 0}, second = {L, w, tmo, h};
    move_pair<C::AXI_BYTES>(run_move(weights, a, h, L.weights.dtype), first,
                            run_move(weights_b, a + (uint64_t)h * size, n - h, L.weights.dtype, true), second);
}

// tap_input beside tap_weights: max(input words, weight words) iterations; what synthesis must do for
// it is dense_movers' (two DATAFLOW processes on their own masters and buffers; unconfirmed here).
template <class C>
void tap_movers(const Layer& L, const uint8_t* weights, const uint8_t* acts, const uint8_t* weights_b,
                const uint8_t* acts_b, const Span& s, int gi, int o0, int tmo, act_t* in, wgt_t* w) {
#pragma HLS DATAFLOW
    FA_BESIDE_BEGIN(both);
    tap_input<C>(L, acts, acts_b, s, gi, in);
    FA_BESIDE_NEXT(both);
    tap_weights<C>(L, weights, weights_b, gi, o0, tmo, w);
    FA_BESIDE_END(both);
}

// Tap-parallel load of Tm tile (gi, o0) into half q: its constants first, then side by side
// (tap_movers) the im2col input tile, pixel p's (tap, channel) pair u at in[p*K*cg + u], and the
// weights of pair u for lane m at w[((u / tn)*tmo + m)*tn + u % tn], so a cycle's Tn pairs are
// consecutive for every lane; all of it a bus word an iteration (memory.h). The input is each (py, ky)
// halo row walked once over its hx columns, the columns inside the image read from DDR and the rest
// made on chip from zp_in (tap_row): padding only where the image is not, every slot written once.
// Each element a move brings is spread into up to KW slots in the same iteration (spread_tap; in
// synthesis a loop of variable trip count, assumed to keep up with the words: a known gap). A split
// engine (C::SPLIT) walks the row of (py, ky) through acts_b when py*KH + ky is odd, beside the even
// one, and reads the second half of the weight run (memory.h first_half) through weights_b.
template <class C>
void tap_load(const Layer& L, const uint8_t* weights, const uint8_t* acts, const uint8_t* weights_b,
              const uint8_t* acts_b, Buffers<C>& b, const Span& s, int gi, int o0, int tmo, act_t* in, wgt_t* w, int q) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(LOAD, 0, in, s);
    load_tile_consts<C>(L, weights, b, q, gi * L.mg + o0, tmo, whole_pixels(L, C::OUTPUT_BUFFER));
    tap_movers<C>(L, weights, acts, weights_b, acts_b, s, gi, o0, tmo, in, w);
}

// The array on a tap-parallel Tm tile: Tn (tap, channel) pairs of every pixel a cycle, into
// half[a0 + p*as + m] (as dense_mac), the first pairs starting from the tile's bias; a pixel's sums
// checked against acc_bits with its last pairs (the executor checks the whole tile once).
template <class C>
int tap_mac(const Layer& L, const Span& s, int tmo, const act_t* in, const wgt_t* w, const int64_t* bias,
            typename Buffers<C>::acc_t* half, int a0, int as) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(COMPUTE, in, half, s);
    typename Buffers<C>::acc_t* acc = half + a0;
    const int ku = L.kh * L.kw * L.cg;
    bool ok = true;
tap_groups:
    for (int u0 = 0; u0 < ku; u0 += L.tn) {
        const int64_t* start = u0 == 0 ? bias : 0;
        const int bits = u0 + L.tn >= ku ? L.acc_bits : 0;
    tap_pixels:
        for (int p = 0; p < s.np; p++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            ok &= array_pixel<C>(acc + p * as, in + p * ku + u0, w + (u0 / L.tn) * tmo * L.tn, L.tn, tmo,
                                 imin(L.tn, ku - u0), start, bits);
        }
    }
    return ok ? S_OK : S_ACC;
}

// Steps of a dense Tm tile: ceil(cg / (G*Tn)).
template <class C>
int dense_steps(const Layer& L) {
    const int cs = tiles_per_step(L, C::INPUT_BUFFER, C::WEIGHT_BUFFER) * L.tn;
    return (L.cg + cs - 1) / cs;
}

// The first load of Tm tile (gi, o0), into input/weight half q, with the tile's constants: a tap-parallel
// tile's only one, else its first step (a resident input's channels in their place in input half r).
template <class C>
void dense_first(const Layer& L, const uint8_t* weights, const uint8_t* acts, const uint8_t* weights_b,
                 const uint8_t* acts_b, Buffers<C>& b, const Span& s, int gi, int o0, bool resident, int r, int q) {
    const int tmo = imin(L.tm, L.mg - o0);
    if (tap_parallel(L, C::INPUT_BUFFER, C::WEIGHT_BUFFER)) {
        tap_load<C>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, tmo, b.in[q], b.w[q], q);
        return;
    }
    const int cs = tiles_per_step(L, C::INPUT_BUFFER, C::WEIGHT_BUFFER) * L.tn, cw = imin(cs, L.cg);
    const bool load_input = !resident || o0 == 0;  // a resident input comes with the group's first Tm tile
    dense_load<C>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, tmo, 0, cw, load_input,
                  resident ? b.in[r] : b.in[q], resident ? L.cg : cw, b.w[q], q);
}

// Tm tile (gi, o0) into accumulator half H, pixel p's channels at acc[H][a0 + p*as + m], its first step
// already loaded into half p0 (dense_first), its steps of G Tn tiles ping-ponged through the
// input/weight halves (a resident input stays in input half r, each step's channels in their own
// place). The halves alternate across the spatial tile's Tm tiles too: step j goes to half
// (p0 + j) % 2, p0 the steps before it, so a Tm tile's first load overlaps the array on the tile
// before it.
template <class C, int H>
int dense_tile(const Layer& L, const uint8_t* weights, const uint8_t* acts, const uint8_t* weights_b,
               const uint8_t* acts_b, Buffers<C>& b, const Span& s, int gi, int o0, bool resident, int r, int p0, int as,
               int a0) {
#pragma HLS INLINE off
    const int tmo = imin(L.tm, L.mg - o0);
    if (tap_parallel(L, C::INPUT_BUFFER, C::WEIGHT_BUFFER)) {  // one step: all of the Tm tile's pairs
        return p0 ? tap_mac<C>(L, s, tmo, b.in[1], b.w[1], b.tile_bias[1], b.acc[H], a0, as)
                  : tap_mac<C>(L, s, tmo, b.in[0], b.w[0], b.tile_bias[0], b.acc[H], a0, as);
    }
    const int cs = tiles_per_step(L, C::INPUT_BUFFER, C::WEIGHT_BUFFER) * L.tn, ns = (L.cg + cs - 1) / cs;
    const bool load_input = !resident || o0 == 0;  // a resident input comes with the group's first Tm tile
    act_t* kept = r ? b.in[1] : b.in[0];           // where a resident input is
dense_pingpong:  // step j: load channels [j*cs, ..) into half (p0+j)%2 | the array on step j-1 in the other half
    for (int j = 1; j <= ns; j++) {
        const int c0 = j * cs, cw = j < ns ? imin(cs, L.cg - c0) : 0, pc0 = c0 - cs, pcw = imin(cs, L.cg - pc0);
        const int at_j = resident ? c0 : 0, at_prev = resident ? pc0 : 0;  // resident offsets
        const int stride_j = resident ? L.cg : cw, stride_prev = resident ? L.cg : pcw;
        int status = S_OK;
        if ((p0 + j) & 1) {
            if (j < ns) dense_load<C>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, tmo, c0, cw, load_input,
                                      (resident ? kept : b.in[1]) + at_j, stride_j, b.w[1], 1);
            status = dense_mac<C>(L, s, tmo, pcw, (resident ? kept : b.in[0]) + at_prev, stride_prev, b.w[0],
                                  j == 1 ? b.tile_bias[0] : 0, b.acc[H], a0, as);
        } else {
            if (j < ns) dense_load<C>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, tmo, c0, cw, load_input,
                                      (resident ? kept : b.in[0]) + at_j, stride_j, b.w[0], 0);
            status = dense_mac<C>(L, s, tmo, pcw, (resident ? kept : b.in[1]) + at_prev, stride_prev, b.w[1],
                                  j == 1 ? b.tile_bias[1] : 0, b.acc[H], a0, as);
        }
        if (status) return status;
    }
    return S_OK;
}

// Tm tile (gi, o0)'s M and shift for accumulator half H, from its constants (half q, read with its
// first load): a lane-parallel copy, one cycle; whole pixels (`whole`) hold the layer's instead. The
// bias is no fill of its own: the tile's first products start from it (dense_mac, tap_mac).
template <class C, int H>
void dense_start(const Layer& L, Buffers<C>& b, int o0, int q, bool whole) {
#pragma HLS INLINE
    const int tmo = imin(L.tm, L.mg - o0);
dense_consts:
    for (int m = 0; m < FA_TILED_LANES(tmo, C::TM); m++) {
#pragma HLS UNROLL
        if (whole || m >= tmo) continue;
        b.mult[H][m] = b.tile_mult[q][m];
        b.shift[H][m] = b.tile_shift[q][m];
    }
}

// Tm tile (group gi, o0) into half H | the output path of `last` from 1-H. The tile's first load, which
// brings its constants, comes first: the array waits for it, the output path's bursts can wait.
template <class C, int H>
int dense_step(const Layer& L, const uint8_t* weights, uint8_t* acts, const uint8_t* weights_b, const uint8_t* acts_b,
               Buffers<C>& b, const Span& s, int gi, int o0, const Pending& last, bool resident, int r, int p0,
               bool whole) {
#pragma HLS INLINE
    dense_first<C>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, resident, r, p0);
    dense_start<C, H>(L, b, o0, p0, whole);
    const int status = drain_half<C, 1 - H>(L, b, acts, acts_b, last);
    if (status) return status;
    const int as = whole ? L.out.c : imin(L.tm, L.mg - o0), a0 = whole ? gi * L.mg + o0 : 0;
    return dense_tile<C, H>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, resident, r, p0, as, a0);
}

// The Tm tiles of spatial tile s, numbered on from i (the layer's Tm tiles so far: the input/weight
// halves go on alternating). Each Tm tile accumulates into half i%2, the first drains `last`, the tile
// before it, and the last becomes `last`; with whole pixels (checks.h) all of them accumulate side by
// side in half n%2 (n: the layer's spatial tiles so far), the first drains the spatial tile before, and
// the whole tile becomes `last`.
template <class C>
int dense_span(const Layer& L, const uint8_t* weights, uint8_t* acts, const uint8_t* weights_b, const uint8_t* acts_b,
               Buffers<C>& b, const Span& s, int& i, int n, Pending& last) {
#pragma HLS INLINE
    const bool resident = input_resident<C>(L, s), whole = whole_pixels(L, C::OUTPUT_BUFFER);
    const int ns = dense_steps<C>(L);
groups:
    for (int gi = 0; gi < L.groups; gi++) {
    dense_out:
        for (int o0 = 0; o0 < L.mg; o0 += L.tm, i++) {
            const int p0 = i & ns & 1;  // (i * ns) % 2: the input/weight half of the tile's first step
            const int h = whole ? n : i, r = n & 1;  // the accumulator half's parity; a resident input's half
            const int status =
                h & 1 ? dense_step<C, 1>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, last, resident, r, p0, whole)
                      : dense_step<C, 0>(L, weights, acts, weights_b, acts_b, b, s, gi, o0, last, resident, r, p0, whole);
            if (status) return status;
            // whole: drained with the spatial tile before
            last = conv_pending(s, gi * L.mg + o0, whole ? 0 : imin(L.tm, L.mg - o0), false);
        }
    }
    if (whole) last = conv_pending(s, 0, L.out.c, true);
    return S_OK;
}

// --- depthwise ----------------------------------------------------------------------------------
// Tm tile o0 (channels o0..o0+tmo) into half q: its bias, M and shift (load_tile_consts), the input
// channels they read, with halo, and their kernels.
template <class C>
void dw_load(const Layer& L, const uint8_t* weights, const uint8_t* acts, Buffers<C>& b, const Span& s, int o0, int q) {
#pragma HLS INLINE off
    act_t* in = b.in[q];
    wgt_t* w = b.w[q];
    FA_TILED_TRACE_STAGE(LOAD, 0, in, s);
    const int k = L.kh * L.kw, tmo = imin(L.tm, L.groups * L.mg - o0), ci0 = o0 / L.mg;
    load_tile_consts<C>(L, weights, b, q, o0, tmo, false);
    load_halo<C>(in, acts, L.in[0], s.ya, s.hy, s.xa, s.hx, ci0, (o0 + tmo - 1) / L.mg + 1 - ci0, L.pad_in);
    load_block<C::AXI_BYTES>(weights, L.weights, (uint64_t)o0 * k, tmo * k, w);
}

// The array on Tm tile o0 (input/weight half A) into accumulator half A, Tn taps a cycle, the first
// taps starting from the bias; every pixel's lane sums checked against acc_bits after each Tn taps,
// in the same iteration (the executor's check points), so the stage is its MAC loop.
template <class C, int A>
int dw_mac(const Layer& L, const uint8_t* weights, Buffers<C>& b, const Span& s, int o0) {
#pragma HLS INLINE off
    FA_TILED_TRACE_STAGE(COMPUTE, b.in[A], b.acc[A], s);
    typedef typename Buffers<C>::acc_t acc_t;
    const int k = L.kh * L.kw, tmo = imin(L.tm, L.groups * L.mg - o0), ci0 = o0 / L.mg;
    const int cn = (o0 + tmo - 1) / L.mg + 1 - ci0;
dw_consts:  // the Tm tile's M and shift for its output path, lane-parallel
    for (int m = 0; m < FA_TILED_LANES(tmo, C::TM); m++) {
#pragma HLS UNROLL
        if (m >= tmo) continue;
        b.mult[A][m] = b.tile_mult[A][m];
        b.shift[A][m] = b.tile_shift[A][m];
    }
    bool ok = true;
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
                acc_t sum = t0 == 0 ? acc_t(b.tile_bias[A][m]) : b.acc[A][p * tmo + m];
            dw_lanes_t:
                for (int tt = 0; tt < FA_TILED_LANES(imin(L.tn, k - t0), C::TN); tt++) {
#pragma HLS UNROLL
                    const int t = t0 + tt;
                    if (t >= k) continue;
                    sum += (acc_t)b.in[A][(corner + b.taps[t]) * cn + ch] * b.w[A][m * k + t];
                }
                b.acc[A][p * tmo + m] = sum;
                if (!fits((int64_t)sum, L.acc_bits)) ok = false;
            }
        }
        if (!ok) return S_ACC;  // the Tn taps the executor reports
    }
    return S_OK;
}

// Step j of nt Tm tiles, H = j%2: output path of tile j-2 (half H) | the array on tile j-1 (half 1-H)
// | load of tile j (half H).
template <class C, int H>
int dw_step(const Layer& L, const uint8_t* weights, uint8_t* acts, const uint8_t* acts_b, Buffers<C>& b, const Span& s,
            int j, int nt) {
#pragma HLS INLINE
    const int nout = L.groups * L.mg;
    if (j >= 2) {
        const int o0 = (j - 2) * L.tm;
        const int status = drain_half<C, H>(L, b, acts, acts_b, conv_pending(s, o0, imin(L.tm, nout - o0), false));
        if (status) return status;
    }
    if (j >= 1 && j <= nt) {
        const int status = dw_mac<C, 1 - H>(L, weights, b, s, (j - 1) * L.tm);
        if (status) return status;
    }
    if (j < nt) dw_load<C>(L, weights, acts, b, s, j * L.tm, H);
    return S_OK;
}

template <class C>
int dw_span(const Layer& L, const uint8_t* weights, uint8_t* acts, const uint8_t* acts_b, Buffers<C>& b, const Span& s) {
#pragma HLS INLINE
    const int nt = (L.groups * L.mg + L.tm - 1) / L.tm;
dw_pipeline:
    for (int j = 0; j <= nt + 1; j++) {
        const int status = j & 1 ? dw_step<C, 1>(L, weights, acts, acts_b, b, s, j, nt)
                           : dw_step<C, 0>(L, weights, acts, acts_b, b, s, j, nt);
        if (status) return status;
    }
    return S_OK;
}

// weights_b / acts_b: the second masters of a split engine (C::SPLIT; else weights / acts again), which
// the dense loads use and depthwise layers do not.
template <class C>
int conv_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, const uint8_t* weights_b, const uint8_t* acts_b,
               Buffers<C>& b) {
    // inlined into run_layer, whose ALLOCATION makes every drain call one instance (drain.h)
#pragma HLS INLINE
    const bool depthwise = L.groups > 1 && L.cg == 1, whole = whole_pixels(L, C::OUTPUT_BUFFER);
    int i = 0, n = 0;  // dense: the layer's Tm tiles and spatial tiles so far
    Span none = {};
    Pending last = conv_pending(none, 0, 0, false);
    load_tables<C>(L, weights, b);
    if (whole) load_channel_consts<C>(L, weights, b);
spatial_rows:
    for (int r0 = 0; r0 < L.out.h; r0 += L.rows) {
    spatial_cols:
        for (int q0 = 0; q0 < L.out.w; q0 += L.cols) {
            const Span s = span_of(L, r0, q0);
            if (depthwise) tap_offsets(L, s.hx, b.taps);
            const int status =
                depthwise ? dw_span<C>(L, weights, acts, acts_b, b, s)
                          : dense_span<C>(L, weights, acts, weights_b, acts_b, b, s, i, n++, last);
            if (status) return status;
        }
    }
    const int h = whole ? n : i;  // the last tile's accumulator half is (h - 1) % 2
    return h & 1 ? drain_half<C, 0>(L, b, acts, acts_b, last) : drain_half<C, 1>(L, b, acts, acts_b, last);
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_CONV_H
