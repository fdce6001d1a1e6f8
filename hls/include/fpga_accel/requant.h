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
//
// Time-shared requantisers (requant_bank below): a PE whose LANES outputs complete together at most
// once every PERIOD cycles (an MVAU's SF = MW/SIMD, a depthwise PE's K/KP) needs only
// RQ = ceil(LANES / PERIOD) of them. At a completion the accumulators and their constants are
// loaded into hold registers; each of the next STEPS = ceil(LANES / RQ) <= PERIOD cycles
// requantises the RQ lowest held lanes and shifts the rest down by RQ (fixed positions, no
// multiplexer over the lanes); the word is written on the last step. Every value goes through
// requantize() as before, so the outputs are the same integers, written STEPS cycles later; a call
// ends with STEPS more loop iterations (the last word's steps). Config member RQ (the PE's lanes,
// i.e. no sharing, when absent); pe/cost.py:requantisers chooses it and prices what is declared here.
#ifndef FA_REQUANT_H
#define FA_REQUANT_H

#include <ap_int.h>
#include <hls_stream.h>

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

template <class T> struct rq_void { typedef void type; };
// RQ of a config struct, LANES when it has none (one requantiser per output lane).
template <class CFG, unsigned LANES, class = void> struct requantisers { static const unsigned value = LANES; };
template <class CFG, unsigned LANES> struct requantisers<CFG, LANES, typename rq_void<decltype(CFG::RQ)>::type> {
    static const unsigned value = CFG::RQ;
};

// The hold registers and output word of RQ requantisers shared by LANES outputs (comment above).
template <int ACC_BITS, int OUT_BITS, unsigned LANES, unsigned RQ> struct requant_bank {
    static_assert(RQ >= 1 && RQ <= LANES, "between one requantiser and one per lane");
    static const unsigned STEPS = (LANES + RQ - 1) / RQ, SLOTS = STEPS * RQ;
    static const bool SHARED = RQ < LANES;
    typedef ap_uint<LANES * OUT_BITS> word_t;

    ap_int<ACC_BITS> acc[SLOTS];
    mult_t m[SLOTS];
    shift_t shift[SLOTS];
    ap_uint<SLOTS * OUT_BITS> y;
    unsigned step;  // STEPS: idle

    requant_bank() : y(0), step(STEPS) {
        for (unsigned l = 0; l < SLOTS; l++) {
            acc[l] = 0;
            m[l] = 0;
            shift[l] = 1;
        }
    }
    // Lane l's accumulator and constants (call for every l < LANES, then start()).
    void load(unsigned l, const ap_int<ACC_BITS>& a, const mult_t& ml, const shift_t& sl) {
#pragma HLS INLINE
        acc[l] = a;
        m[l] = ml;
        shift[l] = sl;
    }
    void start() {
#pragma HLS INLINE
        step = 0;
    }
    // One cycle: requantise the RQ lowest held lanes into the top of y, shift both down by RQ; the
    // word is complete (returned true, in `word`) on the last step.
    bool tick(int zp, int lo, int hi, word_t& word) {
#pragma HLS INLINE
        if (step == STEPS) return false;
        ap_uint<RQ * OUT_BITS> r = 0;
        for (unsigned q = 0; q < RQ; q++) {
#pragma HLS UNROLL
            set_lane<OUT_BITS>(r, q, requantize<ACC_BITS>(acc[q], m[q], shift[q], zp, lo, hi));
        }
        for (unsigned l = 0; l + RQ < SLOTS; l++) {
#pragma HLS UNROLL
            acc[l] = acc[l + RQ];
            m[l] = m[l + RQ];
            shift[l] = shift[l + RQ];
        }
        y >>= RQ * OUT_BITS;
        y.range(SLOTS * OUT_BITS - 1, (SLOTS - RQ) * OUT_BITS) = r;
        if (++step < STEPS) return false;
        word = y.range(LANES * OUT_BITS - 1, 0);
        return true;
    }
};

#ifndef __SYNTHESIS__
namespace sim {
// The fast paths' side of a requant_bank: the word a fast path completes at the current FA_CYCLE
// count is written `delay` (the bank's STEPS, 0 unshared) counts later, when the loop writes it.
template <class W> class delayed_writer {
  public:
    delayed_writer(hls::stream<W>& out, unsigned delay) : out_(out), delay_(delay), pending_(false), due_(0) {}
    void complete(const W& w) {
        tick();
        if (delay_ == 0) {
            out_.write(w);
            return;
        }
        word_ = w;
        due_ = cycles() + delay_;
        pending_ = true;
    }
    // After the current count's read: write a word due now.
    void tick() { flush(cycles()); }
    // Move the count on to `to`, writing a word due on the way at its own count.
    void advance(unsigned long long to) {
        flush(to);
        cycles() = to;
    }
    // The end of a call: the loop's last iterations write the pending word.
    void drain() {
        if (pending_) advance(due_);
    }

  private:
    void flush(unsigned long long upto) {
        if (!pending_ || due_ > upto) return;
        const unsigned long long now = cycles();
        cycles() = due_;
        out_.write(word_);
        cycles() = now > due_ ? now : due_;
        pending_ = false;
    }
    hls::stream<W>& out_;
    const unsigned delay_;
    bool pending_;
    unsigned long long due_;
    W word_;
};
}  // namespace sim
#endif

}  // namespace fa

#endif  // FA_REQUANT_H
