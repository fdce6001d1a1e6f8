// fpga-accel HLS library, tiled engine: elementwise layers on the shared pixel walk (pixels.h),
// rows*cols cycles per Tm tile:
//   add:     requantise(sum_i (q_i - zp_i) * m_i, M = 1, shift)          (Add, Sub, Sum of up to 4)
//   requant: requantise((q - zp_in) * pre[ch], M[ch], shift[ch])         (per-channel Mul, concat inputs)
//   lut:     table[q - in_min]
// then the output path (post stages, write).
#ifndef FA_TILED_ELTWISE_H
#define FA_TILED_ELTWISE_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/tiled/pixels.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

struct EltwiseUnit {
    static int inputs(const Layer& L) { return L.kind == K_ADD ? L.n_inputs : 1; }

    // per-channel constants, once per tile, block by block (a run each, a bus word an iteration)
    template <class C>
    static void tile(const Layer& L, const uint8_t* weights, const uint8_t*, Buffers<C>& b, int c0, int cn) {
        if (L.kind != K_REQUANT) return;
        load_block<C::AXI_BYTES>(weights, L.pre, c0, cn, b.pre);
        load_block<C::AXI_BYTES>(weights, L.mblk, c0, cn, b.mult[0]);
        load_block<C::AXI_BYTES>(weights, L.sblk, c0, cn, b.shift[0]);
    }

    template <class C>
    static int64_t lane(const Layer& L, const Buffers<C>& b, const int64_t (*x)[C::TM], int m, int& status) {
#pragma HLS INLINE
        if (L.kind == K_ADD) {
            int64_t acc = 0;
            for (int i = 0; i < L.n_inputs; i++) acc += (x[i][m] - L.zp[i]) * L.mult[i];
            return requant<C::ACC_BITS>(acc, 1, L.shift, L.zp_out, L.lo, L.hi, status);
        }
        if (L.kind == K_REQUANT)
            return requant<C::ACC_BITS>((x[0][m] - L.pad_in) * b.pre[m], b.mult[0][m], b.shift[0][m], L.zp_out, L.lo,
                                        L.hi, status);
        return lookup<C>(b, MAX_POST, L.entries, L.in_min, x[0][m], status);
    }
};

template <class C>
int eltwise_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    return pixel_walk<C, EltwiseUnit>(L, weights, acts, b);
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_ELTWISE_H
