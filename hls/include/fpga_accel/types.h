// fpga-accel HLS library: quantised element types and packed stream words.
//
// A stream word packs LANES elements of BITS bits each into one ap_uint<LANES*BITS>; lane i sits at
// bits [i*BITS, (i+1)*BITS), lane 0 in the least significant bits. Signed elements are stored in two's
// complement. An activation tensor H x W x C (NHWC, channels fastest) with LANES channels per word is
// the stream of H*W*(C/LANES) words: pixel by pixel (row-major), channel groups of LANES in order.
// Nothing here costs cycles; the helpers are wiring (part selects) once inlined and unrolled.
//
// FA_HEX_WORD(T, "hex") is a constant packed word wider than 64 bits in generated parameter arrays:
// T("hex", 16) for synthesis, the same bits through fa::sim::hex_word in C simulation.
// FA_PARAM(T, NAME, DIMS) = {...} FA_PARAM_END(NAME); declares a generated parameter array: for
// synthesis `static const T NAME DIMS = {...};`, in C simulation the same values behind a reference.
//
// FA_CYCLE() opens the body of every pipelined (II=1) loop in the library. In C simulation it counts
// loop iterations in fa::sim::cycles(), which is how the testbenches check each header's cycle
// formula; for synthesis (__SYNTHESIS__ defined) it expands to nothing. FA_MOVE() opens the body of a
// pipelined loop that only moves data (the tiled engine's loads and output path): counted apart, in
// fa::sim::moves(), so the compute cycles stay the array's, while the tiled trace times each stage by
// both.
#ifndef FA_TYPES_H
#define FA_TYPES_H

#include <ap_int.h>

#ifndef __SYNTHESIS__
#include <stdint.h>

#include <type_traits>

namespace fa {
namespace sim {
inline unsigned long long& cycles() {
    static unsigned long long count = 0;
    return count;
}
inline unsigned long long& moves() {
    static unsigned long long count = 0;
    return count;
}

// C simulation only: PEs whose cycle-by-cycle loop is slow to simulate (MVAU, depthwise) compute the
// same stream values and FA_CYCLE count with native integers instead. false selects the loops that
// synthesis sees, which is how the testbenches prove both agree.
inline bool& fast_paths() {
    static bool on = true;
    return on;
}

// Words as 64-bit chunks (chunk k = bits [64k, 64k + 64)) and lanes as native integers: one wide
// shift per chunk instead of one per lane.
template <int W> struct chunks {
    static const int N = (W + 63) / 64;
};
template <int W>
void to_chunks(const ap_uint<W>& w, uint64_t c[]) {
    c[0] = w.to_uint64();
    for (int k = 1; k < chunks<W>::N; k++) {
        ap_uint<W> t = w >> (64 * k);
        c[k] = t.to_uint64();
    }
}
template <int W>
ap_uint<W> from_chunks(const uint64_t c[]) {
    ap_uint<W> w = c[chunks<W>::N - 1];
    for (int k = chunks<W>::N - 2; k >= 0; k--) {
        w <<= 64;
        w |= ap_uint<W>(c[k]);
    }
    return w;
}
template <int BITS> struct lane_mask {
    static const uint64_t value = BITS >= 64 ? ~0ULL : (1ULL << (BITS < 64 ? BITS : 0)) - 1;
};
// Lane i (BITS <= 64 bits, sign- or zero-extended) of chunked word c.
template <int BITS, bool SIGNED>
int64_t lane(const uint64_t c[], unsigned i) {
    const unsigned bit = i * BITS, k = bit / 64, off = bit % 64;
    uint64_t v = c[k] >> off;
    if (off + BITS > 64) v |= c[k + 1] << (64 - off);
    v &= lane_mask<BITS>::value;
    if (SIGNED && BITS < 64) {
        const uint64_t sign = 1ULL << (BITS < 64 ? BITS - 1 : 0);
        v = (v ^ sign) - sign;
    }
    return (int64_t)v;
}
// OR the low BITS bits of v into lane i of chunked word c (c zeroed beforehand).
template <int BITS>
void put_lane(uint64_t c[], unsigned i, int64_t v) {
    const unsigned bit = i * BITS, k = bit / 64, off = bit % 64;
    const uint64_t u = (uint64_t)v & lane_mask<BITS>::value;
    c[k] |= u << off;
    if (off + BITS > 64) c[k + 1] |= u >> (64 - off);
}
// All LANES lanes of a word, in order.
template <int LANES, int BITS, bool SIGNED, typename T>
void unpack_word(const ap_uint<LANES * BITS>& w, T out[]) {
    uint64_t c[chunks<LANES * BITS>::N];
    to_chunks<LANES * BITS>(w, c);
    for (int i = 0; i < LANES; i++) out[i] = (T)lane<BITS, SIGNED>(c, i);
}
template <int LANES, int BITS, typename T>
ap_uint<LANES * BITS> pack_word(const T in[]) {
    uint64_t c[chunks<LANES * BITS>::N] = {0};
    for (int i = 0; i < LANES; i++) put_lane<BITS>(c, i, (int64_t)in[i]);
    return from_chunks<LANES * BITS>(c);
}
// Unsigned native type for ACC_BITS-bit sums: arithmetic modulo 2^32 or 2^64, of which ap_int<ACC_BITS>
// arithmetic (modulo 2^ACC_BITS) is the image, so wrap() of a native sum is bit for bit the ap_int sum.
template <int ACC_BITS> struct acc_native {
    typedef typename std::conditional<(ACC_BITS <= 32), uint32_t, uint64_t>::type type;
};
template <int ACC_BITS, typename U>
int64_t wrap(U v) {
    const uint64_t u = (uint64_t)v;
    return lane<ACC_BITS, true>(&u, 0);
}

// A word from its hex digits (lowercase, no prefix), parsed at start-up. Not inlined: a parameter
// array of thousands of wide words would otherwise inline as many string constructors into one static
// initialiser, which costs g++ seconds.
template <class T>
__attribute__((noinline)) T hex_word(const char* hex) {
    uint64_t c[chunks<T::width>::N] = {0};
    int n = 0;
    while (hex[n]) n++;
    for (int i = 0; i < n && i < 16 * chunks<T::width>::N; i++) {
        const int ch = hex[n - 1 - i];
        const uint64_t d = ch <= '9' ? ch - '0' : ch - 'a' + 10;
        c[i / 16] |= d << (4 * (i % 16));
    }
    return from_chunks<T::width>(c);
}

}  // namespace sim
}  // namespace fa
#define FA_CYCLE() (++fa::sim::cycles())
#define FA_MOVE() (++fa::sim::moves())
#define FA_HEX_WORD(T, HEX) fa::sim::hex_word<T>(HEX)
// A parameter array is initialised in a function of its own on first use: ap_int elements are
// constructed at start-up, and one static initialiser holding every array of a large network (millions
// of constructions, ResNet-50) is more than g++ 12 can compile (an internal compiler error).
#define FA_PARAM(T, NAME, DIMS) \
    typedef const T NAME##_type DIMS; \
    static NAME##_type& NAME##_init() { static NAME##_type values
#define FA_PARAM_END(NAME) \
    ; return values; } \
    static NAME##_type& NAME = NAME##_init()
#else
#define FA_CYCLE()
#define FA_MOVE()
#define FA_HEX_WORD(T, HEX) T(HEX, 16)
#define FA_PARAM(T, NAME, DIMS) static const T NAME DIMS
#define FA_PARAM_END(NAME)
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
#ifndef __SYNTHESIS__
    if (W <= 64 && sim::fast_paths()) {  // simulation: native shifts on the one 64-bit chunk (the same bits)
        const uint64_t c = w.to_uint64();
        v = (typename qint<BITS, SIGNED>::type)sim::lane<BITS, SIGNED>(&c, i);
        return v;
    }
#endif
    v.range(BITS - 1, 0) = w.range(i * BITS + BITS - 1, i * BITS);
    return v;
}

// Write the low BITS bits of v (two's complement) into lane i.
template <int BITS, int W, typename T>
void set_lane(ap_uint<W>& w, unsigned i, const T& v) {
#pragma HLS INLINE
    ap_int<BITS> b = v;  // truncate to the lane width
#ifndef __SYNTHESIS__
    if (W <= 64 && sim::fast_paths()) {  // simulation: native shifts and masks (the same bits)
        const uint64_t mask = sim::lane_mask<BITS>::value << (i * BITS);
        const uint64_t u = ((uint64_t)b.to_int64() << (i * BITS)) & mask;
        w = (w.to_uint64() & ~mask) | u;
        return;
    }
#endif
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
