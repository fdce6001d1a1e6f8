// fpga-accel HLS library, tiled engine: the output path of the array's layers — convolutions, gemm,
// window and global pools — one function for all of them and both accumulator halves.
//
// drain() takes what waits in an accumulator half (Pending: a Tm tile, a whole spatial tile, a pool's
// channels) pixel by pixel, P = out_lanes() channels an iteration (output_path.h), and per lane:
//   value  = acc - sub, requantised as `scale` says, or itself (a max pool)
//   y      = the post stages of value (output_path.h post_path: lookup tables, the residual add)
//   S_RANGE when y lies outside the output's type, else y written
// A conv writes each lane's element (a pixel's channels one run of DDR bytes, a row one run when they
// are all of the pixel's); a pool writes its pixel's values together (pixels.h write_pixel: a span
// rewritten through a channel-strided view), as the cost model counts them (cost.py). A split
// engine's conv reads the residuals of its odd output rows through the second activations master
// (acts_b), the even ones' through acts, as its loads split their input rows (memory.h).
//
// The layers run one at a time and a layer drains one half at a time, so one instance serves them
// all: the accumulator half and its M and shift are arguments, chosen at each call site (conv.h
// drain_half, pool.h pool_out, global_pool), whose ALLOCATION (tiled_engine.h run_layer, the layer
// functions inlined into it) makes them one instance with its memory ports muxed. The array on one
// half and the drain of the other share no array at their call sites, so they can still overlap.
// target.py counts this path's DSPs once a lane (unconfirmed without a synthesis report).
#ifndef FA_TILED_DRAIN_H
#define FA_TILED_DRAIN_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/tiled/pixels.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

// How a lane's value acc - sub is requantised: not at all (a max pool), with the M and shift of its
// channel (mult[m]: a Tm tile's, or the layer's with whole pixels), of its pixel (mult[p]: an average
// pool's per-position constants), or with the layer's one M and shift (a global average pool).
enum Scale { SCALE_NONE = 0, SCALE_CHANNEL = 1, SCALE_POSITION = 2, SCALE_LAYER = 3 };

// What awaits the output path (tmo = 0: nothing): spatial tile s's channels m0..m0+tmo, pixel p's
// channel m at acc[p*tmo + m]. A conv's Tm tile is drained by the next Tm tile, in the same spatial
// tile or the next; with whole pixels (checks.h) all of a spatial tile's channels (m0 = 0, tmo =
// out.c, the layer's M and shift), by the next spatial tile's first Tm tile.
struct Pending {
    Span s;
    int m0, tmo;
    bool whole;     // a conv's whole spatial tile
    int scale;      // Scale
    int64_t sub;    // subtracted before requantising (a pool: its window's zero points)
    bool pixel;     // a pool: a pixel's values written together
};

inline Pending conv_pending(const Span& s, int m0, int tmo, bool whole) {
    const Pending p = {s, m0, tmo, whole, SCALE_CHANNEL, 0, false};
    return p;
}

inline Pending pool_pending(const Span& s, int c0, int cn, int scale, int64_t sub) {
    const Pending p = {s, c0, cn, false, scale, sub, true};
    return p;
}

// The output path of `pend` from accumulator half `acc` with its M and shift (mult, shift; read as
// pend.scale says): ceil(tmo / P) iterations a pixel, FA_MOVE each.
template <class C>
int drain(const Layer& L, const Buffers<C>& b, const typename Buffers<C>::acc_t* acc, const int32_t* mult,
          const int8_t* shift, uint8_t* acts, const uint8_t* acts_b, const Pending& pend) {
#pragma HLS INLINE off
    const Span& s = pend.s;
    const int lanes = out_lanes<C>(L), n = pend.tmo;
    int64_t y[C::TM];  // a pool's pixel (n <= Tm), written together
    Pixel px;
drain_pixels:
    for (int p = 0; p < s.np; p++, px.next(s.nc)) {
        const int r = s.r0 + px.py, q = s.q0 + px.px;
        const bool odd = C::SPLIT && !pend.pixel && (r & 1);  // its residuals through acts_b
    drain_words:
        for (int w0 = 0; w0 < n; w0 += lanes) {
#pragma HLS PIPELINE II = 1
            FA_MOVE();
        lane:
            for (int l = 0; l < FA_TILED_LANES(lanes, C::OUT_LANES); l++) {
#pragma HLS UNROLL
                const int m = w0 + l;
                if (l >= lanes || m >= n) continue;
                const int at = pend.scale == SCALE_POSITION ? p : m;
                const bool one = pend.scale == SCALE_LAYER;
                const int64_t a = (int64_t)acc[p * n + m] - pend.sub;
                int status = S_OK;
                int64_t v = pend.scale == SCALE_NONE
                                ? a
                                : requant<C::ACC_BITS>(a, one ? (int64_t)L.m : (int64_t)mult[at], one ? L.shift : shift[at],
                                                       L.zp_out, L.lo, L.hi, status);
                if (!status) v = post_path<C>(L, b, odd ? acts_b : acts, v, r, q, pend.m0 + m, status, odd);
                if (status) return status;
                if (v < dtype_min(L.out.dtype) || v > dtype_max(L.out.dtype)) return S_RANGE;
                if (pend.pixel)
                    y[m] = v;
                else
                    store(acts, addr(L.out, r, q, pend.m0 + m), L.out.dtype, v);
            }
        }
        if (pend.pixel) write_pixel(acts, L.out, r, q, pend.m0, n, y);
    }
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_DRAIN_H
