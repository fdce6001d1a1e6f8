// fpga-accel HLS library: folded matrix-vector activation unit (MVAU) for Conv, Gemm and MatMul.
//
// Computes, for each of N_VECTORS input vectors x (length MW) per image,
//   acc[r] = bias[r] + sum_c W[r][c] * x[c]                     r < MH output channels
//   y[r]   = requantize(acc[r], M[r], shift[r], OUT_ZP, OUT_LO, OUT_HI)
// Conv: x is one im2col window from sliding_window (MVAU order, column (ky*KW + kx)*C + c), MW =
// KH*KW*C, MH = output channels, N_VECTORS = OH*OW. Gemm/MatMul: MW = K, MH = N, N_VECTORS = rows.
// x holds the stored input integers: the input zero point is folded into the bias
// (quant/arith.py:fold_zero_point), which is why padding must carry the zero point.
//
// Folding: PE output channels x SIMD input columns per cycle; NF = MH/PE neuron folds, SF = MW/SIMD
// synapse folds. In: N_VECTORS*SF words of SIMD elements (IN_BITS each). Out: N_VECTORS*NF words of
// PE elements (OUT_BITS each); word nf of a vector holds channels nf*PE .. nf*PE+PE-1, lane p =
// channel nf*PE + p, so the output is NHWC with channels fastest. Each vector is read once (during
// nf == 0) into a buffer of SF words and replayed for the other folds.
// Cycles/image (II=1) = N_VECTORS * NF * SF = N_VECTORS * (MH/PE) * (MW/SIMD); plus STEPS per call
// when the requantisers are shared.
// Requantisers: RQ (config member; PE when absent) shared by a fold's PE outputs, which complete once
// every SF cycles (requant.h: requant_bank, RQ >= ceil(PE / SF)); shared, a word is written
// STEPS = ceil(PE / RQ) cycles after its fold's last input word.
//
// Parameters (arrays, in on-chip ROM; first dimension partitioned so all PEs read in parallel):
//   weights            : the PE memories of NF*SF words of SIMD*W_BITS bits, lane s of memory p's word
//                        nf*SF + sf = W[nf*PE + p][sf*SIMD + s], packed as weight_memory.h lays them out
//                        (banks of WM_PES memories, WM_SLOTS words per row: [PE/WM_PES][ceil(NF*SF/WM_SLOTS)])
//   bias[PE][NF]       : ap_int<ACC_BITS>, bias[p][nf] for channel nf*PE + p (zero point folded in);
//                        likewise m[PE][NF] and shift[PE][NF], the channel's requantisation constants.
// Config: struct with static const members MW, MH, SIMD, PE, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS,
// ACC_BITS, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI, PACK, PACK_SHIFT, MUL_FABRIC, and optionally PACK_GROUP (1 when
// absent), WM_PES, WM_SLOTS (the weights' packing, weight_memory.h; 1 and 1 when absent) and RQ (mvau() only). ACC_BITS comes from the
// contract (quant/arith.py:accumulator_bits) so no partial sum overflows.
//
// Multipliers (pe/mvau.py:multipliers chooses them from the board; the cost model reads the same members):
//   PACK = 2: PEs p and p+1 (p even) share one multiply per lane s, as in AMD WP486/WP487: with
//     K = PACK_SHIFT >= W_BITS + IN_BITS (the width of one product, signed or unsigned x),
//       P = (w[p+1] << K) + w[p]                        W_BITS + K + 1 bits (the DSP's pre-adder)
//       P * x = (w[p+1]*x << K) + w[p]*x                one multiply, P on the wide port, x on the 18-bit one
//       lo = the low K bits, sign-extended = w[p]*x
//       hi = (P*x >> K) + bit K-1 (the borrow lo took) = w[p+1]*x
//     exact for every weight and activation of these widths (tb_mvau checks all of int8 x int8/uint8);
//     with an odd PE the last PE multiplies alone. PACK = 1: one multiply per product.
//   PACK_GROUP = G > 1 (optional member, 1 when absent; PACK = 2 only): the packed products of G
//     consecutive lanes are summed while packed, S = sum P_s * x_s = (H << K) + L with H and L the two
//     PEs' sums over the group, and separated once per group as above (lo = L, hi = (S >> K) + bit K-1).
//     Exact while L fits K bits signed: G * (the largest |w*x|) within 2^(K-1) (pe/cost.py:pack_group,
//     the static_assert below). The adds of a group are bound to DSPs and kept a chain (EXPRESSION_BALANCE
//     off: the post-adder of the slice whose multiply feeds it, P = A*B + PCIN, as AMD WP486 accumulates
//     packed INT8 products), so the fabric holds one
//     borrow fix-up and one adder input per PE pair and group, not per product.
//   MUL_FABRIC: every product in LUTs (BIND_OP impl=fabric) instead of DSPs; never with PACK = 2.
#ifndef FA_MVAU_H
#define FA_MVAU_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"
#include "fpga_accel/weight_memory.h"

#ifndef __SYNTHESIS__
#include <vector>
#endif

namespace fa {

template <class CFG> struct mvau_dims {
    static const unsigned NF = CFG::MH / CFG::PE;
    static const unsigned SF = CFG::MW / CFG::SIMD;
    static const unsigned TILES = NF * SF;
    typedef requant_bank<CFG::ACC_BITS, CFG::OUT_BITS, CFG::PE, requantisers<CFG, CFG::PE>::value> bank_t;
    static const unsigned DRAIN = bank_t::SHARED ? bank_t::STEPS : 0;  // iterations a call adds
};

// The packed weight memory of an MVAU-like PE with TILES words per PE memory (weight_memory.h).
template <class CFG, unsigned TILES> struct mvau_wm : pe_weights<CFG, CFG::PE, CFG::SIMD * CFG::W_BITS, TILES> {};
#define FA_MVAU_WEIGHTS(CFG, TILES) \
    const typename mvau_wm<CFG, TILES>::word_t weights[mvau_wm<CFG, TILES>::BANKS][mvau_wm<CFG, TILES>::DEPTH]

// One product w*x at its exact width, in DSPs or (FABRIC) in LUTs.
template <int W_BITS, int IN_BITS, bool IN_SIGNED, bool FABRIC> struct single_mul {
    typedef ap_int<W_BITS + IN_BITS> prod_t;
    static prod_t mul(const ap_int<W_BITS>& w, const typename qint<IN_BITS, IN_SIGNED>::type& x) {
#pragma HLS INLINE
        prod_t p = w * x;
        return p;
    }
};
template <int W_BITS, int IN_BITS, bool IN_SIGNED> struct single_mul<W_BITS, IN_BITS, IN_SIGNED, true> {
    typedef ap_int<W_BITS + IN_BITS> prod_t;
    static prod_t mul(const ap_int<W_BITS>& w, const typename qint<IN_BITS, IN_SIGNED>::type& x) {
#pragma HLS INLINE
        prod_t p = w * x;
#pragma HLS BIND_OP variable = p op = mul impl = fabric
        return p;
    }
};

// Two products sharing x from one multiply of a packed operand (PACK = 2 in the comment above):
// lo = w_lo*x, hi = w_hi*x.
template <int W_BITS, int IN_BITS, bool IN_SIGNED, int K>
void packed_mul(const ap_int<W_BITS>& w_lo, const ap_int<W_BITS>& w_hi,
                const typename qint<IN_BITS, IN_SIGNED>::type& x, ap_int<W_BITS + IN_BITS>& lo,
                ap_int<W_BITS + IN_BITS>& hi) {
#pragma HLS INLINE
    static_assert(K >= W_BITS + IN_BITS, "PACK_SHIFT below the width of one product: the products would overlap");
    typedef ap_int<W_BITS + K + 1> packed_t;  // + 1: w_lo may carry (w_hi << K) one below -2^(W_BITS+K-1)
    const packed_t packed = (packed_t(w_hi) << K) + packed_t(w_lo);
    const ap_int<IN_BITS + (IN_SIGNED ? 0 : 1)> xs = x;  // the multiplier's inputs are signed
    const ap_int<W_BITS + K + 1 + IN_BITS + 1> p = packed * xs;
    ap_int<K> low;
    low.range(K - 1, 0) = p.range(K - 1, 0);  // sign-extended from bit K-1
    lo = low;
    hi = (p >> K) + ap_int<2>(p[K - 1] ? 1 : 0);  // >> floors: add back the borrow of a negative lo
}

// The PE*SIMD products of one cycle: prod[p][s] = lane s of PE p's weights times lane s of x.
template <class CFG>
void mvau_products(const ap_uint<CFG::SIMD * CFG::W_BITS> w[CFG::PE], const ap_uint<CFG::SIMD * CFG::IN_BITS>& x,
                   ap_int<CFG::W_BITS + CFG::IN_BITS> prod[CFG::PE][CFG::SIMD]) {
#pragma HLS INLINE
    static_assert(CFG::PACK == 1 || CFG::PACK == 2, "PACK is 1 (a multiply per product) or 2 (two PEs per multiply)");
    static_assert(CFG::PACK == 1 || !CFG::MUL_FABRIC, "packing is for DSP multipliers, not LUT ones");
    static const unsigned PAIRS = CFG::PACK == 2 ? CFG::PE / 2 : 0;
    static const int K = CFG::PACK == 2 ? CFG::PACK_SHIFT : CFG::W_BITS + CFG::IN_BITS;  // unused when PAIRS = 0
    typedef single_mul<CFG::W_BITS, CFG::IN_BITS, CFG::IN_SIGNED, CFG::MUL_FABRIC> single;
    for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
        const typename qint<CFG::IN_BITS, CFG::IN_SIGNED>::type xs = get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(x, s);
        for (unsigned q = 0; q < PAIRS; q++) {
#pragma HLS UNROLL
            packed_mul<CFG::W_BITS, CFG::IN_BITS, CFG::IN_SIGNED, K>(get_lane<CFG::W_BITS, true>(w[2 * q], s),
                                                                   get_lane<CFG::W_BITS, true>(w[2 * q + 1], s), xs,
                                                                   prod[2 * q][s], prod[2 * q + 1][s]);
        }
        for (unsigned p = 2 * PAIRS; p < CFG::PE; p++) {
#pragma HLS UNROLL
            prod[p][s] = single::mul(get_lane<CFG::W_BITS, true>(w[p], s), xs);
        }
    }
}

// PACK_GROUP of a config struct, 1 when it has none (every packed product separated on its own).
template <class CFG, class = void> struct pack_group { static const unsigned value = 1; };
template <class CFG> struct pack_group<CFG, typename wm_void<decltype(CFG::PACK_GROUP)>::type> {
    static const unsigned value = CFG::PACK_GROUP;
};

// Bits of an unsigned value up to n.
constexpr int bits_of(unsigned long long n) { return n ? 1 + bits_of(n >> 1) : 0; }

// Whether N products w*x (W_BITS signed, IN_BITS signed or not) always sum within K bits signed.
template <int W_BITS, int IN_BITS, bool IN_SIGNED, int K, unsigned N> struct packed_sum_fits {
    static const long long WLO = -(1LL << (W_BITS - 1)), WHI = (1LL << (W_BITS - 1)) - 1;
    static const long long XLO = IN_SIGNED ? -(1LL << (IN_BITS - 1)) : 0;
    static const long long XHI = IN_SIGNED ? (1LL << (IN_BITS - 1)) - 1 : (1LL << IN_BITS) - 1;
    static const long long PMAX = WLO * XLO > WHI * XHI ? WLO * XLO : WHI * XHI;
    static const long long PMIN = WLO * XHI < WHI * XLO ? WLO * XHI : WHI * XLO;
    static const bool value = (long long)N * PMAX <= (1LL << (K - 1)) - 1 && (long long)N * PMIN >= -(1LL << (K - 1));
};

// The dot products of one cycle: sum[p] = sum over lanes s of lane s of PE p's weights times lane s of x.
// PACK_GROUP = 1: mvau_products, then an adder tree per PE. PACK_GROUP = G > 1: per PE pair and group
// of G lanes one packed sum, separated once (the comment above).
template <class CFG>
void mvau_dot(const ap_uint<CFG::SIMD * CFG::W_BITS> w[CFG::PE], const ap_uint<CFG::SIMD * CFG::IN_BITS>& x,
              ap_int<CFG::ACC_BITS> sum[CFG::PE]) {
#pragma HLS INLINE
    static const unsigned G = pack_group<CFG>::value;
    static_assert(G >= 1 && G <= CFG::SIMD, "PACK_GROUP is between 1 and SIMD");
    static_assert(G == 1 || CFG::PACK == 2, "PACK_GROUP sums packed products: PACK = 2 only");
    if (G == 1) {
        ap_int<CFG::W_BITS + CFG::IN_BITS> prod[CFG::PE][CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = prod complete dim = 0
        mvau_products<CFG>(w, x, prod);
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            ap_int<CFG::ACC_BITS> a = 0;
            for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
                a += prod[p][s];
            }
            sum[p] = a;
        }
        return;
    }
    static const int W = CFG::W_BITS, A = CFG::IN_BITS;
    static const int K = G > 1 ? CFG::PACK_SHIFT : W + A;  // unused when G = 1
    static_assert(G == 1 || packed_sum_fits<W, A, CFG::IN_SIGNED, K, G>::value,
                  "PACK_SHIFT too small for PACK_GROUP: a group's low sum would reach the high one");
    static const unsigned PAIRS = CFG::PE / 2, GROUPS = (CFG::SIMD + G - 1) / G;
    typedef ap_int<W + K + 1> packed_t;                         // as packed_mul
    typedef ap_int<W + K + 1 + A + 1 + bits_of(G)> psum_t;      // G packed products
    typedef ap_int<W + A + bits_of(G)> field_t;                 // a PE's sum over G lanes
    typedef single_mul<W, A, CFG::IN_SIGNED, false> single;
    for (unsigned q = 0; q < PAIRS; q++) {
#pragma HLS UNROLL
        ap_int<CFG::ACC_BITS> a_lo = 0, a_hi = 0;
        for (unsigned g = 0; g < GROUPS; g++) {
#pragma HLS UNROLL
            psum_t ps = 0;
#pragma HLS BIND_OP variable = ps op = add impl = dsp
#pragma HLS EXPRESSION_BALANCE off
            for (unsigned i = 0; i < G; i++) {
#pragma HLS UNROLL
                const unsigned s = g * G + i;
                if (s >= CFG::SIMD) continue;  // a short last group
                const packed_t packed = (packed_t(get_lane<W, true>(w[2 * q + 1], s)) << K) +
                                        packed_t(get_lane<W, true>(w[2 * q], s));
                const ap_int<A + (CFG::IN_SIGNED ? 0 : 1)> xs = get_lane<A, CFG::IN_SIGNED>(x, s);
                ps += packed * xs;
            }
            ap_int<K> low;
            low.range(K - 1, 0) = ps.range(K - 1, 0);  // sign-extended from bit K-1: the low PE's sum
            const field_t hi = (ps >> K) + ap_int<2>(ps[K - 1] ? 1 : 0);  // plus the borrow of a negative low
            a_lo += low;
            a_hi += hi;
        }
        sum[2 * q] = a_lo;
        sum[2 * q + 1] = a_hi;
    }
    for (unsigned p = 2 * PAIRS; p < CFG::PE; p++) {  // an odd PE's last PE multiplies alone
#pragma HLS UNROLL
        ap_int<CFG::ACC_BITS> a = 0;
        for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
            a += single::mul(get_lane<W, true>(w[p], s), get_lane<A, CFG::IN_SIGNED>(x, s));
        }
        sum[p] = a;
    }
}

// The accumulating half of one MVAU iteration: the products of the PEs' weight words at `tile` with x
// added to the accumulators (restarted from the bias when `first`).
template <class CFG, unsigned TILES, unsigned NF>
void mvau_accumulate(const ap_uint<CFG::SIMD * CFG::IN_BITS>& x, FA_MVAU_WEIGHTS(CFG, TILES),
                     const ap_int<CFG::ACC_BITS> bias[CFG::PE][NF], unsigned tile, unsigned nf, bool first,
                     ap_int<CFG::ACC_BITS> acc[CFG::PE]) {
#pragma HLS INLINE
    ap_uint<CFG::SIMD * CFG::W_BITS> w[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = w complete
    mvau_wm<CFG, TILES>::read(weights, tile, w);
    ap_int<CFG::ACC_BITS> sum[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = sum complete
    mvau_dot<CFG>(w, x, sum);
    for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
        acc[p] = (first ? bias[p][nf] : acc[p]) + sum[p];
    }
}

// One pipelined iteration of a folded MVAU (grouped_mvau; mvau() with unshared requantisers): the
// accumulation, and, when `last`, fold nf's requantised outputs written as one word.
template <class CFG, unsigned TILES, unsigned NF>
void mvau_step(const ap_uint<CFG::SIMD * CFG::IN_BITS>& x, FA_MVAU_WEIGHTS(CFG, TILES),
               const ap_int<CFG::ACC_BITS> bias[CFG::PE][NF], const mult_t m[CFG::PE][NF],
               const shift_t shift[CFG::PE][NF], unsigned tile, unsigned nf, bool first, bool last,
               ap_int<CFG::ACC_BITS> acc[CFG::PE], hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out) {
#pragma HLS INLINE
    mvau_accumulate<CFG, TILES, NF>(x, weights, bias, tile, nf, first, acc);
    if (last) {
        ap_uint<CFG::PE * CFG::OUT_BITS> y = 0;
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            set_lane<CFG::OUT_BITS>(y, p, requantize<CFG::ACC_BITS>(acc[p], m[p][nf], shift[p][nf], CFG::OUT_ZP,
                                                                    CFG::OUT_LO, CFG::OUT_HI));
        }
        out.write(y);
    }
}

#ifndef __SYNTHESIS__
namespace sim {
// mvau() for C simulation: the same words in and out and the same FA_CYCLE count, computed as one
// dense dot product per output channel over lanes unpacked once (weights once per call). Exact
// products whatever PACK and MUL_FABRIC say: the packed multiply recovers the same integers
// (tb_mvau proves both paths equal).
template <class CFG>
void mvau_fast(hls::stream<ap_uint<CFG::SIMD * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
               FA_MVAU_WEIGHTS(CFG, mvau_dims<CFG>::TILES),
               const ap_int<CFG::ACC_BITS> bias[CFG::PE][mvau_dims<CFG>::NF], const mult_t m[CFG::PE][mvau_dims<CFG>::NF],
               const shift_t shift[CFG::PE][mvau_dims<CFG>::NF], unsigned reps) {
    typedef mvau_dims<CFG> D;
    typedef typename acc_native<CFG::ACC_BITS>::type U;
    static const unsigned MW = CFG::MW, MH = CFG::MH, SIMD = CFG::SIMD, PE = CFG::PE;
    std::vector<U> w((size_t)MH * MW), x(MW), b(MH);
    std::vector<uint64_t> mr(MH);
    std::vector<unsigned> sr(MH);
    for (unsigned p = 0; p < PE; p++) {
        for (unsigned tile = 0; tile < D::TILES; tile++) {  // lane s of weights[p][nf*SF + sf]
            const unsigned r = tile / D::SF * PE + p, c = tile % D::SF * SIMD;
            unpack_word<SIMD, CFG::W_BITS, true>(mvau_wm<CFG, D::TILES>::at(weights, p, tile), &w[(size_t)r * MW + c]);
        }
        for (unsigned nf = 0; nf < D::NF; nf++) {
            b[nf * PE + p] = (U)bias[p][nf].to_int64();
            mr[nf * PE + p] = m[p][nf].to_uint64();
            sr[nf * PE + p] = shift[p][nf].to_uint();
        }
    }
    int y[PE];
    delayed_writer<ap_uint<PE * CFG::OUT_BITS> > wr(out, D::DRAIN);
    // FA_CYCLE advances as the loop's: reads in iterations (0, sf), fold nf complete in (nf, SF - 1)
    // and written then or, shared, DRAIN iterations later.
    for (unsigned v = 0; v < CFG::N_VECTORS * reps; v++) {
        for (unsigned sf = 0; sf < D::SF; sf++) {
            ++cycles();
            unpack_word<SIMD, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), &x[sf * SIMD]);
            wr.tick();
        }
        for (unsigned nf = 0; nf < D::NF; nf++) {
            if (nf > 0) wr.advance(cycles() + D::SF);
            for (unsigned p = 0; p < PE; p++) {
                const unsigned r = nf * PE + p;
                const U* wr = &w[(size_t)r * MW];
                U a = b[r];
                for (unsigned c = 0; c < MW; c++) a += wr[c] * x[c];
                y[p] = requantize_i64<CFG::ACC_BITS>(wrap<CFG::ACC_BITS>(a), mr[r], sr[r], CFG::OUT_ZP, CFG::OUT_LO,
                                                     CFG::OUT_HI);
            }
            wr.complete(pack_word<PE, CFG::OUT_BITS>(y));
        }
    }
    wr.drain();
}
}  // namespace sim
#endif

template <class CFG>
void mvau(hls::stream<ap_uint<CFG::SIMD * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
          FA_MVAU_WEIGHTS(CFG, mvau_dims<CFG>::TILES),
          const ap_int<CFG::ACC_BITS> bias[CFG::PE][mvau_dims<CFG>::NF], const mult_t m[CFG::PE][mvau_dims<CFG>::NF],
          const shift_t shift[CFG::PE][mvau_dims<CFG>::NF], unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    typedef mvau_dims<CFG> D;
    typedef ap_uint<CFG::SIMD * CFG::IN_BITS> in_t;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static_assert(CFG::MH % CFG::PE == 0, "PE must divide MH");
    static_assert(CFG::MW % CFG::SIMD == 0, "SIMD must divide MW");
    static_assert(!D::bank_t::SHARED || D::bank_t::STEPS <= D::SF, "RQ too few: a word's steps outlast its fold");
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::mvau_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    in_t inbuf[D::SF];  // the current vector, replayed for folds nf > 0
    acc_t acc[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete

    typename D::bank_t bank;
#pragma HLS ARRAY_PARTITION variable = bank.acc complete
#pragma HLS ARRAY_PARTITION variable = bank.m complete
#pragma HLS ARRAY_PARTITION variable = bank.shift complete

    unsigned nf = 0, sf = 0, tile = 0;
    const unsigned total = CFG::N_VECTORS * D::TILES * reps;
    for (unsigned i = 0; i < total + D::DRAIN; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        ap_uint<CFG::PE * CFG::OUT_BITS> y;
        if (D::bank_t::SHARED && bank.tick(CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI, y)) out.write(y);  // before a load
        if (i >= total) continue;  // the drain: the last word's requantise steps only
        in_t x;
        if (nf == 0) {
            x = in.read();
            inbuf[sf] = x;
        } else {
            x = inbuf[sf];
        }
        if (D::bank_t::SHARED) {
            mvau_accumulate<CFG, D::TILES, D::NF>(x, weights, bias, tile, nf, sf == 0, acc);
            if (sf == D::SF - 1) {
                for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                    bank.load(p, acc[p], m[p][nf], shift[p][nf]);
                }
                bank.start();
            }
        } else {
            mvau_step<CFG, D::TILES, D::NF>(x, weights, bias, m, shift, tile, nf, sf == 0, sf == D::SF - 1, acc, out);
        }
        // Advance (nf, sf); the tile index runs over NF*SF and restarts with each vector.
        if (++tile == D::TILES) tile = 0;
        if (++sf == D::SF) {
            sf = 0;
            if (++nf == D::NF) nf = 0;
        }
    }
}

}  // namespace fa

#endif  // FA_MVAU_H
