// fpga-accel HLS library, tiled engine: two 8-bit products from one DSP multiply (PACK = 2).
//
// Lanes m and m+1 of the array (m even) multiply the same activation x by their own weights, so an
// engine built with PACK = 2 gives them one multiplier, as mvau.h does for the dataflow design (AMD
// WP486/WP487), with K = 16:
//   P = (w_hi << 16) + w_lo            25 bits: fits the pre-adder and wide port of DSP48E1 (25 x 18)
//                                      and DSP48E2 (27 x 18)
//   P * x = (w_hi*x << 16) + w_lo*x    x as 9-bit signed on the narrow port (int8 and uint8 alike)
//   lo = the low 16 bits, sign-extended = w_lo*x
//   hi = (P*x >> 16) + bit 15 (the borrow a negative lo took) = w_hi*x
// Exact because every product of an int8 weight and an int8 or uint8 activation fits 16 signed bits
// (-128*255 .. 127*255, and (-128)^2 = 16384): that is why K is 16 here where mvau.h, whose x
// signedness is fixed at compile time, takes W_BITS + IN_BITS. The engine refuses conv and gemm layers
// of other types when PACK = 2 (checks.h, S_ENGINE), so only such values reach it.
#ifndef FA_TILED_PACK_H
#define FA_TILED_PACK_H

#include <ap_int.h>
#include <stdint.h>

#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

static const int PACK_SHIFT = 16;

// lo = w_lo * x and hi = w_hi * x from one multiply of a packed operand.
inline void pair_mul(int w_lo, int w_hi, int x, int64_t& lo, int64_t& hi) {
#pragma HLS INLINE
#if !defined(__SYNTHESIS__) && !defined(FA_TILED_AS_SYNTHESIS)
    if (sim::fast_paths()) {  // C simulation: the same bits in native integers, split as the DSP's output
        const int64_t p = (((int64_t)w_hi << PACK_SHIFT) + w_lo) * (int64_t)x;
        lo = (int16_t)(uint16_t)(p & 0xFFFF);
        hi = (p >> PACK_SHIFT) + ((p >> (PACK_SHIFT - 1)) & 1);
        return;
    }
#endif
    const ap_int<25> packed = (ap_int<25>(w_hi) << PACK_SHIFT) + ap_int<25>(w_lo);
    const ap_int<34> p = packed * ap_int<9>(x);
    const ap_int<16> low = p.range(PACK_SHIFT - 1, 0);
    lo = low.to_int64();
    hi = ((p >> PACK_SHIFT) + ap_int<2>(p[PACK_SHIFT - 1] ? 1 : 0)).to_int64();
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_PACK_H
