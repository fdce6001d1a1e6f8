// fpga-accel HLS library, tiled engine: the product of two tensors on the shared pixel walk
// (pixels.h), rows*cols cycles per Tm tile:
//   mul: requantise((a - zp[0]) * (b - zp[1]), M, shift)   (one M and shift for the layer)
// b has a's shape (x * sigmoid(x)), or is a 1x1xC channel gate (squeeze-excitation) whose Tm values
// are read once per output tile into the per-channel buffer; then the output path (post stages,
// write), as the dataflow engine's channel_mul and mul PEs compute it.
#ifndef FA_TILED_MUL_H
#define FA_TILED_MUL_H

#include <stdint.h>

#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/memory.h"
#include "fpga_accel/tiled/output_path.h"
#include "fpga_accel/tiled/pixels.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

struct MulUnit {
    static bool gate(const Layer& L) { return L.in[1].h != L.in[0].h || L.in[1].w != L.in[0].w; }  // checked: 1x1xC
    static int inputs(const Layer& L) { return gate(L) ? 1 : 2; }

    // the gate's Tm channels, once per tile
    template <class C>
    static void tile(const Layer& L, const uint8_t*, const uint8_t* acts, Buffers<C>& b, int c0, int cn) {
        if (!gate(L)) return;
        int64_t g[C::TM];
        read_pixel<C::AXI_BYTES>(acts, L.in[1], 0, 0, c0, cn, g);
        for (int m = 0; m < cn; m++) b.pre[m] = (int32_t)g[m];
    }

    template <class C>
    static int64_t lane(const Layer& L, const Buffers<C>& b, const int64_t (*x)[C::TM], int m, int& status) {
#pragma HLS INLINE
        const int64_t vb = gate(L) ? (int64_t)b.pre[m] : x[1][m];
        return requant<C::ACC_BITS>((x[0][m] - L.zp[0]) * (vb - L.zp[1]), L.m, L.shift, L.zp_out, L.lo, L.hi, status);
    }
};

template <class C>
int mul_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, Buffers<C>& b) {
    return pixel_walk<C, MulUnit>(L, weights, acts, b);
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_MUL_H
