// fpga-accel HLS library, tiled engine: the output path after a layer's own requantisation and clamp.
//
// load_tables() brings the layer's lookup tables on chip once per layer, a bus word an iteration (post
// stages in slots 0..n_post-1, the lut kind's own table in slot MAX_POST). finish() applies the post stages in order
// to one output value (post_path), then writes it through the output view:
//   lut: y = table[y - in_min]                                  (S_LUT_INDEX outside the table)
//   add: y = requantise((a - zp0)*m0 + (b - zp1)*m1, M = 1, shift, zp_out, lo, hi), the residual
//        element read from its view at the same position; self_index says which side y is
// A result outside the output's type is refused (S_RANGE), as the reference executor does.
#ifndef FA_TILED_OUTPUT_PATH_H
#define FA_TILED_OUTPUT_PATH_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"

namespace fa {
namespace tiled {

template <class C>
void load_tables(const Layer& L, const uint8_t* weights, Buffers<C>& b) {
    for (int j = 0; j <= MAX_POST; j++) {
        const bool own = j == MAX_POST && L.kind == K_LUT;
        if (!own && (j >= L.n_post || L.post[j].op != POST_LUT)) continue;
        const Block& t = own ? L.table : L.post[j].table;
        load_block<C::BUS>(weights, t, 0, (int)t.count, b.lut[j]);  // a bus word an iteration
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

// The post stages of output (r, q, ch) in order; status set when one stops the engine.
template <class C>
int64_t post_path(const Layer& L, const Buffers<C>& b, const uint8_t* acts, int64_t y, int r, int q, int ch,
                  int& status) {
#pragma HLS INLINE
post:
    for (int j = 0; j < L.n_post; j++) {
        const Post& p = L.post[j];
        if (p.op == POST_LUT) {
            y = lookup<C>(b, j, p.entries, p.in_min, y, status);
        } else {
            const int64_t res = load(acts, addr(p.residual, r, q, ch), p.residual.dtype);
            const int64_t a = p.self_index == 0 ? y : res, c = p.self_index == 0 ? res : y;
            y = requant<C::ACC_BITS>((a - p.zp[0]) * p.mult[0] + (c - p.zp[1]) * p.mult[1], 1, p.shift, p.zp_out, p.lo,
                                     p.hi, status);
        }
        if (status) return 0;
    }
    return y;
}

// Post stages and the write of output (r, q, ch); S_OK or the status that stops the engine.
template <class C>
int finish(const Layer& L, const Buffers<C>& b, uint8_t* acts, int64_t y, int r, int q, int ch) {
#pragma HLS INLINE
    int status = S_OK;
    y = post_path<C>(L, b, acts, y, r, q, ch, status);
    if (status) return status;
    if (y < dtype_min(L.out.dtype) || y > dtype_max(L.out.dtype)) return S_RANGE;
    store(acts, addr(L.out, r, q, ch), L.out.dtype, y);
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_OUTPUT_PATH_H
