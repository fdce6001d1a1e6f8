// fpga-accel HLS library: the requantise step of the integer contract (the only implementation).
//
//   out = clamp(zp_out + ((acc * M + (1 << (shift - 1))) >> shift), lo, hi)
//
// acc is a signed accumulator wide enough never to overflow, M an unsigned multiplier of at most
// MULT_BITS bits (one DSP-sized product), shift in [1, MAX_SHIFT], ">>" an arithmetic (floor) shift,
// so the rounding is half-up. lo/hi are the output type's range intersected with any fused
// ReLU/ReLU6/Clip. The Python mirror is fpga_accel/quant/arith.py:requantize; the tests prove the
// two equal bit for bit.
//
// Cost: one multiply, one add, one shift, two compares; fully pipelined (II=1), no state.
#ifndef FA_REQUANT_H
#define FA_REQUANT_H

#include <ap_int.h>

#include "fpga_accel/types.h"

namespace fa {

static const int MULT_BITS = 17;  // M < 2^MULT_BITS
static const int MAX_SHIFT = 62;  // 1 <= shift <= MAX_SHIFT
static const int SHIFT_BITS = 6;  // enough bits to hold MAX_SHIFT
static const int MAX_ACC_BITS = 63 - MULT_BITS;  // the Python mirror computes acc * M in int64

typedef ap_uint<MULT_BITS> mult_t;
typedef ap_uint<SHIFT_BITS> shift_t;

// acc * M fits PROD_BITS = ACC_BITS + MULT_BITS signed bits, so |acc * M| < 2^(PROD_BITS-1). A shift
// of PROD_BITS or more therefore always gives (acc*M + 2^(shift-1)) >> shift == 0, and the datapath
// only needs PROD_BITS + 1 bits and a shifter over PROD_BITS positions, not 64.
#ifndef __SYNTHESIS__
// C simulation: the same steps in int64. |acc * M| < 2^(PROD_BITS-1) <= 2^62 and the rounding term is at
// most 2^(PROD_BITS-2), so nothing overflows and every intermediate equals the ap_int one below.
template <int ACC_BITS>
int requantize_i64(int64_t acc, uint64_t m, unsigned shift, int zp, int lo, int hi) {
    static_assert(ACC_BITS <= MAX_ACC_BITS, "accumulator wider than the contract allows");
    static const unsigned PROD_BITS = ACC_BITS + MULT_BITS;
    int64_t q = 0;
    // (shift 0 is outside the contract; ap_int's shift by -1 adds nothing, so neither does this)
    if (shift < PROD_BITS) q = (acc * (int64_t)m + (shift ? (int64_t)1 << (shift - 1) : 0)) >> shift;
    int64_t r = q + zp;
    if (r < lo) r = lo;
    if (r > hi) r = hi;
    return (int)r;
}
#endif

template <int ACC_BITS>
int requantize(const ap_int<ACC_BITS>& acc, const mult_t& m, const shift_t& shift, int zp, int lo, int hi) {
#pragma HLS INLINE
    static_assert(ACC_BITS <= MAX_ACC_BITS, "accumulator wider than the contract allows");
#ifndef __SYNTHESIS__
    if (sim::fast_paths())
        return requantize_i64<ACC_BITS>(acc.to_int64(), m.to_uint64(), shift.to_uint(), zp, lo, hi);
#endif
    static const int PROD_BITS = ACC_BITS + MULT_BITS;
    typedef ap_int<PROD_BITS + 1> wide_t;
    wide_t q = 0;
    if (shift < PROD_BITS) {
        wide_t p = acc;
        p = p * m;                         // exact
        p += wide_t(1) << (shift - 1);     // round half up ...
        q = p >> shift;                    // ... then floor (arithmetic shift)
    }
    static const int R_BITS = PROD_BITS + 2 > 33 ? PROD_BITS + 2 : 33;  // also holds any int lo/hi
    ap_int<R_BITS> r = q;
    r += zp;
    if (r < lo) r = lo;
    if (r > hi) r = hi;
    return r.to_int();
}

}  // namespace fa

#endif  // FA_REQUANT_H
