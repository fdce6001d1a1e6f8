// fpga-accel HLS library, tiled engine: the output path's stages after a layer's own requantisation
// and clamp, which every output path applies (drain.h drain, pixels.h finish_pixel).
//
// load_tables() brings the layer's lookup tables on chip once per layer, a bus word an iteration (post
// stages in slots 0..n_post-1, the lut kind's own table in slot MAX_POST). post_path() applies the post
// stages in order to one output value:
//   lut: y = table[y - in_min]                                  (S_LUT_INDEX outside the table)
//   add: y = requantise((a - zp0)*m0 + (b - zp1)*m1, M = 1, shift, zp_out, lo, hi), the residual
//        element read from its view at the same position; self_index says which side y is
// then the output path refuses a result outside the output's type (S_RANGE), as the reference
// executor does, and writes it.
//
// The output path moves up to a bus word an iteration (docs/tiled.md §5): out_lanes() = P =
// min(C::OUT_LANES, W / itemsize(out)) lanes, W = C::AXI_BYTES (int16 outputs use at most half of
// W's), each lane requantising, applying the post stages (reading its own residual element) and
// writing; an output or residual view of channel stride > 1 moves one element an iteration. C
// simulation runs the lanes in order, so the DDR accesses, their runs and the first status are those
// of an element loop. Synthesis reads P accumulators a cycle, more than the TM banks top.h gives them
// when P > TM (a banking gap no synthesis report has checked).
#ifndef FA_TILED_OUTPUT_PATH_H
#define FA_TILED_OUTPUT_PATH_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

template <class C>
void load_tables(const Layer& L, const uint8_t* weights, Buffers<C>& b) {
    for (int j = 0; j <= MAX_POST; j++) {
        const bool own = j == MAX_POST && L.kind == K_LUT;
        if (!own && (j >= L.n_post || L.post[j].op != POST_LUT)) continue;
        const Block& t = own ? L.table : L.post[j].table;
        load_block<C::AXI_BYTES>(weights, t, 0, (int)t.count, b.lut[j]);  // a bus word an iteration
    }
}

// Lookup of y in table slot j: S_LUT_INDEX when y - in_min falls outside its entries.
template <class C>
int64_t lookup(const Buffers<C>& b, int j, int entries, int in_min, int64_t y, int& status) {
#pragma HLS INLINE
    const int64_t i = y - in_min;
    if (i < 0 || i >= entries) {
        status = S_LUT_INDEX;
        return 0;
    }
    return b.lut[j][i];
}

// Index of a layer's residual add among its post stages (checks.h: at most one), n_post when it has none.
inline int add_stage(const Layer& L) {
#pragma HLS INLINE
    int at = L.n_post;
    for (int j = L.n_post - 1; j >= 0; j--)
        if (L.post[j].op == POST_ADD) at = j;
    return at;
}

// Post stages [from, to) of a layer, all lookup tables (the add is not among them).
template <class C>
int64_t post_luts(const Layer& L, const Buffers<C>& b, int from, int to, int64_t y, int& status) {
#pragma HLS INLINE
post_luts:
    for (int j = 0; j < MAX_POST; j++) {
#pragma HLS UNROLL
        if (j < from || j >= to || status) continue;
        const Post& p = L.post[j];
        y = lookup<C>(b, j, p.entries, p.in_min, y, status);
    }
    return status ? 0 : y;
}

// The post stages of output (r, q, ch) in order; status set when one stops the engine. Written as the
// tables before the layer's one residual add, the add, the tables after it, so a lane has one adder
// (its two multiplies: target.py counts them) rather than one for every stage slot; each table has a
// read before and one after the add, of which a layer uses one (target.py: a dual-port copy a lane).
// The residual element is read through `acts`, the activations arena's master (`second`: its second
// master, a split engine's acts_b, drain.h).
template <class C>
int64_t post_path(const Layer& L, const Buffers<C>& b, const uint8_t* acts, int64_t y, int r, int q, int ch,
                  int& status, bool second = false) {
#pragma HLS INLINE
    const int at = add_stage(L);
    y = post_luts<C>(L, b, 0, at, y, status);
    if (status || at >= L.n_post) return y;
    const Post& p = L.post[at];
    const int64_t res = load(acts, addr(p.residual, r, q, ch), p.residual.dtype, second);
    const int64_t a = p.self_index == 0 ? y : res, c = p.self_index == 0 ? res : y;
    y = requant<C::ACC_BITS>((a - p.zp[0]) * p.mult[0] + (c - p.zp[1]) * p.mult[1], 1, p.shift, p.zp_out, p.lo, p.hi,
                             status);
    if (status) return 0;
    return post_luts<C>(L, b, at + 1, L.n_post, y, status);
}

// Lanes of the output path an iteration: P = min(OUT_LANES, W / itemsize(out)) (at least one), or one
// when the output or a residual view has a channel stride > 1 (its elements are not one run of bytes).
template <class C>
int out_lanes(const Layer& L) {
#pragma HLS INLINE
    bool strided = L.out.cs > 1;
    for (int j = 0; j < L.n_post; j++) strided = strided || (L.post[j].op != POST_LUT && L.post[j].residual.cs > 1);
    const int w = C::AXI_BYTES / itemsize(L.out.dtype), p = w < C::OUT_LANES ? w : C::OUT_LANES;
    return strided || p < 1 ? 1 : p;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_OUTPUT_PATH_H
