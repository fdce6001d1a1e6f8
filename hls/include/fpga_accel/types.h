// fpga-accel HLS library: quantised element types and packed stream words.
//
// A stream word packs LANES elements of BITS bits each into one ap_uint<LANES*BITS>; lane i sits at
// bits [i*BITS, (i+1)*BITS), lane 0 in the least significant bits. Signed elements are stored in two's
// complement. An activation tensor H x W x C (NHWC, channels fastest) with LANES channels per word is
// the stream of H*W*(C/LANES) words: pixel by pixel (row-major), channel groups of LANES in order.
// Nothing here costs cycles; the helpers are wiring (part selects) once inlined and unrolled.
//
// FA_CYCLE() opens the body of every pipelined (II=1) loop in the library. In C simulation it counts
// loop iterations in fa::sim::cycles(), which is how the testbenches check each header's cycle
// formula; for synthesis (__SYNTHESIS__ defined) it expands to nothing.
#ifndef FA_TYPES_H
#define FA_TYPES_H

#include <ap_int.h>

#ifndef __SYNTHESIS__
namespace fa {
namespace sim {
inline unsigned long long& cycles() {
    static unsigned long long count = 0;
    return count;
}
}  // namespace sim
}  // namespace fa
#define FA_CYCLE() (++fa::sim::cycles())
#else
#define FA_CYCLE()
#endif

namespace fa {

// Integer type of one quantised element, with the bounds of its range.
template <int BITS, bool SIGNED> struct qint;
template <int BITS> struct qint<BITS, true> {
    typedef ap_int<BITS> type;
    static const int min = -(1 << (BITS - 1));
    static const int max = (1 << (BITS - 1)) - 1;
};
template <int BITS> struct qint<BITS, false> {
    typedef ap_uint<BITS> type;
    static const int min = 0;
    static const int max = (1 << BITS) - 1;
};

// Packed word of LANES elements of BITS bits.
template <int LANES, int BITS> struct word {
    typedef ap_uint<LANES * BITS> type;
};

// Lane i of a packed word, as a BITS-bit signed or unsigned integer.
template <int BITS, bool SIGNED, int W>
typename qint<BITS, SIGNED>::type get_lane(const ap_uint<W>& w, unsigned i) {
#pragma HLS INLINE
    typename qint<BITS, SIGNED>::type v;
    v.range(BITS - 1, 0) = w.range(i * BITS + BITS - 1, i * BITS);
    return v;
}

// Write the low BITS bits of v (two's complement) into lane i.
template <int BITS, int W, typename T>
void set_lane(ap_uint<W>& w, unsigned i, const T& v) {
#pragma HLS INLINE
    ap_int<BITS> b = v;  // truncate to the lane width
    w.range(i * BITS + BITS - 1, i * BITS) = b.range(BITS - 1, 0);
}

// A word with every lane equal to value (e.g. the zero point used as padding).
template <int LANES, int BITS>
ap_uint<LANES * BITS> splat(int value) {
#pragma HLS INLINE
    ap_uint<LANES * BITS> w = 0;
    for (unsigned i = 0; i < LANES; i++) {
#pragma HLS UNROLL
        set_lane<BITS>(w, i, value);
    }
    return w;
}

}  // namespace fa

#endif  // FA_TYPES_H
