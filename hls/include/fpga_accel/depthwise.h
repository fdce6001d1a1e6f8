// fpga-accel HLS library: depthwise convolution PE (per-channel dot product over the K x K window).
//
// For each output pixel and channel c (group = C, one filter per channel):
//   acc[c] = bias[c] + sum_{ky,kx} w[c][ky][kx] * x[oy*SH - PAD_T + ky*DH][ox*SW - PAD_L + kx*DW][c]
//   y[c]   = requantize(acc[c], M[c], shift[c], OUT_ZP, OUT_LO, OUT_HI)
// with x the stored input integers and the input zero point folded into the bias (padding carries it).
//
// In : per group of PX output pixels, for each channel group cf = 0..CF-1 (CF = C/PE), NK = K/KP
//      words of PX*KP*PE lanes: lane x*KP*PE + q*PE + p of word j is channel cf*PE + p at kernel
//      position t = j*KP + q (t = ky*KW + kx) of pixel x. KP = PX = 1: the sliding_window stream in
//      DEPTHWISE order with SIMD == PE (kx fastest); KP > 1 or PX > 1 with PE == C: the
//      parallel_window stream with SIMD = KP*C at PX (its lane x*SIMD + q*C + c: the same layout).
// Out: per group of PX output pixels CF words of PX*PE lanes (lane x*PE + p = channel cf*PE + p of
//      pixel x): NHWC, channels fastest.
// Folding: PE channels x KP kernel positions x PX pixels in parallel (PX*PE*KP products per cycle);
// each weight word is read once for the PX pixels.
// Cycles/image (II=1) = N_VECTORS/PX * CF * K/KP = OH*OW/PX * (C/PE) * KH*KW/KP; plus STEPS per call
// when the requantisers are shared (below).
//
// Multipliers: PACK = 2 (PX >= 2): pixels x and x+1 (x even) share one multiply per weight, the
// weight being the shared operand: with K = PACK_SHIFT >= W_BITS + IN_BITS (one product's width),
//   P = (a[x+1] << K) + a[x]               IN_BITS + K + 1 bits (signed; + 1 for the carry)
//   P * w = (w*a[x+1] << K) + w*a[x]       one multiply, P on the wide port, w on the 18-bit one
//   lo = the low K bits, sign-extended = w*a[x]; hi = (P*w >> K) + bit K-1 = w*a[x+1]
// (mvau.h's packed multiply with the roles of weight and activation swapped; tb_depthwise checks it
// bit for bit). With an odd PX the last pixel multiplies alone. PACK = 1: one multiply per product.
//
// Requantisers: RQ (config member; PX*PE when absent) shared by the PX*PE outputs of a word, which
// complete once every NK = K/KP cycles (requant.h: requant_bank, RQ >= ceil(PX*PE / NK)); shared, a
// word is written STEPS = ceil(PX*PE / RQ) cycles after its last input and a call takes STEPS more
// iterations.
//
// Parameters: weights: one memory of CF*NK words of KP*PE*W_BITS bits, lane q*PE + p of word cf*NK + j =
//             w[cf*PE + p][j*KP + q], packed as weight_memory.h lays it out (WM_SLOTS words per row);
//             bias[PE][CF] (ap_int<ACC_BITS>), m[PE][CF], shift[PE][CF] for channel cf*PE + p.
// Config: struct with static const members C, PE, KP, PX, K, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS,
// ACC_BITS, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI, PACK, PACK_SHIFT (KP divides K, PX divides N_VECTORS,
// PE == C when PX > 1), and optionally WM_SLOTS (WM_PES is 1: there is one memory) and RQ.
#ifndef FA_DEPTHWISE_H
#define FA_DEPTHWISE_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"
#include "fpga_accel/weight_memory.h"

#ifndef __SYNTHESIS__
#include <vector>
#endif

namespace fa {

// The packed weight memory of a depthwise PE (weight_memory.h).
template <class CFG>
struct depthwise_wm : pe_weights<CFG, 1, CFG::KP * CFG::PE * CFG::W_BITS, CFG::C / CFG::PE * (CFG::K / CFG::KP)> {};
#define FA_DEPTHWISE_WEIGHTS(CFG) \
    const typename depthwise_wm<CFG>::word_t weights[depthwise_wm<CFG>::BANKS][depthwise_wm<CFG>::DEPTH]

template <class CFG> struct depthwise_dims {
    static const unsigned CF = CFG::C / CFG::PE, NK = CFG::K / CFG::KP;
    static const unsigned LANES = CFG::KP * CFG::PE;  // one pixel's lanes of an input word
    static const unsigned PAIRS = CFG::PACK == 2 ? CFG::PX / 2 : 0;  // pixel pairs sharing multiplies
    typedef requant_bank<CFG::ACC_BITS, CFG::OUT_BITS, CFG::PX * CFG::PE, requantisers<CFG, CFG::PX * CFG::PE>::value>
        bank_t;
    static const unsigned DRAIN = bank_t::SHARED ? bank_t::STEPS : 0;  // iterations a call adds
    static_assert(bank_t::STEPS <= NK || !bank_t::SHARED, "RQ too few: a word's steps outlast its NK inputs");
};

// Two products sharing the weight w from one multiply of two packed activations (PACK = 2 above):
// lo = w*a_lo, hi = w*a_hi.
template <int W_BITS, int IN_BITS, bool IN_SIGNED, int K>
void packed_pixels_mul(const ap_int<W_BITS>& w, const typename qint<IN_BITS, IN_SIGNED>::type& a_lo,
                       const typename qint<IN_BITS, IN_SIGNED>::type& a_hi, ap_int<W_BITS + IN_BITS + 1>& lo,
                       ap_int<W_BITS + IN_BITS + 1>& hi) {
#pragma HLS INLINE
    static_assert(K >= W_BITS + IN_BITS, "PACK_SHIFT below the width of one product: the products would overlap");
    typedef ap_int<IN_BITS + K + 1> packed_t;  // + 1: signed a_lo may carry the sum one below -2^(IN_BITS+K-1)
    const packed_t packed = (packed_t(a_hi) << K) + packed_t(a_lo);
    const ap_int<IN_BITS + K + 1 + W_BITS> p = packed * w;
    ap_int<K> low;
    low.range(K - 1, 0) = p.range(K - 1, 0);  // sign-extended from bit K-1
    lo = low;
    hi = (p >> K) + ap_int<2>(p[K - 1] ? 1 : 0);  // >> floors: add back the borrow of a negative lo
}

// The PX*KP*PE products of one word: prod[x][l] = lane l of w times lane x*LANES + l of the input.
template <class CFG>
void depthwise_products(const ap_uint<CFG::KP * CFG::PE * CFG::W_BITS>& w,
                        const ap_uint<CFG::PX * CFG::KP * CFG::PE * CFG::IN_BITS>& in,
                        ap_int<CFG::W_BITS + CFG::IN_BITS + 1> prod[CFG::PX][CFG::KP * CFG::PE]) {
#pragma HLS INLINE
    typedef depthwise_dims<CFG> D;
    typedef typename qint<CFG::IN_BITS, CFG::IN_SIGNED>::type x_t;
    static_assert(CFG::PACK == 1 || CFG::PACK == 2, "PACK is 1 (one multiply per product) or 2 (two pixels each)");
    static const int K = CFG::PACK == 2 ? CFG::PACK_SHIFT : CFG::W_BITS + CFG::IN_BITS;  // unused when PAIRS = 0
    for (unsigned l = 0; l < D::LANES; l++) {
#pragma HLS UNROLL
        const ap_int<CFG::W_BITS> wl = get_lane<CFG::W_BITS, true>(w, l);
        for (unsigned q = 0; q < D::PAIRS; q++) {
#pragma HLS UNROLL
            const x_t a_lo = get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(in, 2 * q * D::LANES + l);
            const x_t a_hi = get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(in, (2 * q + 1) * D::LANES + l);
            packed_pixels_mul<CFG::W_BITS, CFG::IN_BITS, CFG::IN_SIGNED, K>(wl, a_lo, a_hi, prod[2 * q][l],
                                                                           prod[2 * q + 1][l]);
        }
        for (unsigned x = 2 * D::PAIRS; x < CFG::PX; x++) {
#pragma HLS UNROLL
            prod[x][l] = wl * get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(in, x * D::LANES + l);
        }
    }
}

#ifndef __SYNTHESIS__
namespace sim {
// depthwise() for C simulation: the same words and FA_CYCLE count, with native lanes and modular sums
// (see types.h: wrap() of the native sum is the ap_int<ACC_BITS> sum). Exact products whatever PACK
// says: the packed multiply recovers the same integers (tb_depthwise proves both paths equal).
template <class CFG>
void depthwise_fast(hls::stream<ap_uint<CFG::PX * CFG::KP * CFG::PE * CFG::IN_BITS> >& in,
                    hls::stream<ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS> >& out,
                    FA_DEPTHWISE_WEIGHTS(CFG),
                    const ap_int<CFG::ACC_BITS> bias[CFG::PE][CFG::C / CFG::PE],
                    const mult_t m[CFG::PE][CFG::C / CFG::PE], const shift_t shift[CFG::PE][CFG::C / CFG::PE],
                    unsigned reps) {
    typedef typename acc_native<CFG::ACC_BITS>::type U;
    static const unsigned CF = CFG::C / CFG::PE, PE = CFG::PE, PX = CFG::PX, L = CFG::KP * CFG::PE,
                          NK = CFG::K / CFG::KP;
    std::vector<U> w((size_t)CF * NK * L);  // [cf][j][q*PE + p], as the weight words
    for (unsigned i = 0; i < CF * NK; i++)
        unpack_word<L, CFG::W_BITS, true>(depthwise_wm<CFG>::at(weights, 0, i), &w[(size_t)i * L]);
    U x[PX * L], a[PX * PE];
    int y[PX * PE];
    delayed_writer<ap_uint<PX * PE * CFG::OUT_BITS> > wr(out, depthwise_dims<CFG>::DRAIN);
    for (unsigned v = 0; v < CFG::N_VECTORS / PX * reps; v++) {
        for (unsigned cf = 0; cf < CF; cf++) {
            for (unsigned i = 0; i < PX * PE; i++) a[i] = (U)bias[i % PE][cf].to_int64();
            for (unsigned j = 0; j < NK; j++) {  // one FA_CYCLE iteration per word, as the loop's
                ++cycles();
                unpack_word<PX * L, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), x);
                wr.tick();
                const U* wj = &w[((size_t)cf * NK + j) * L];
                for (unsigned px = 0; px < PX; px++)
                    for (unsigned l = 0; l < L; l++) a[px * PE + l % PE] += wj[l] * x[px * L + l];
            }
            for (unsigned i = 0; i < PX * PE; i++)
                y[i] = requantize_i64<CFG::ACC_BITS>(wrap<CFG::ACC_BITS>(a[i]), m[i % PE][cf].to_uint64(),
                                                     shift[i % PE][cf].to_uint(), CFG::OUT_ZP, CFG::OUT_LO,
                                                     CFG::OUT_HI);
            wr.complete(pack_word<PX * PE, CFG::OUT_BITS>(y));
        }
    }
    wr.drain();
}
}  // namespace sim
#endif

template <class CFG>
void depthwise(hls::stream<ap_uint<CFG::PX * CFG::KP * CFG::PE * CFG::IN_BITS> >& in,
               hls::stream<ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS> >& out,
               FA_DEPTHWISE_WEIGHTS(CFG),
               const ap_int<CFG::ACC_BITS> bias[CFG::PE][CFG::C / CFG::PE], const mult_t m[CFG::PE][CFG::C / CFG::PE],
               const shift_t shift[CFG::PE][CFG::C / CFG::PE], unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    typedef depthwise_dims<CFG> D;
    static const unsigned CF = D::CF, NK = D::NK;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static_assert(CFG::C % CFG::PE == 0, "PE must divide C");
    static_assert(CFG::K % CFG::KP == 0, "KP must divide K");
    static_assert(CFG::N_VECTORS % CFG::PX == 0, "PX must divide the output pixels");
    static_assert(CFG::PX == 1 || CFG::PE == CFG::C, "PX pixels per word carry every channel");
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::depthwise_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    acc_t acc[CFG::PX][CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
    typename D::bank_t bank;
#pragma HLS ARRAY_PARTITION variable = bank.acc complete
#pragma HLS ARRAY_PARTITION variable = bank.m complete
#pragma HLS ARRAY_PARTITION variable = bank.shift complete
    unsigned k = 0, cf = 0, widx = 0;
    const unsigned total = CFG::N_VECTORS / CFG::PX * CF * NK * reps;
    for (unsigned i = 0; i < total + D::DRAIN; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS> y = 0;
        if (D::bank_t::SHARED && bank.tick(CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI, y)) out.write(y);  // before a load
        if (i >= total) continue;  // the drain: the last word's requantise steps only
        const ap_uint<CFG::PX * CFG::KP * CFG::PE * CFG::IN_BITS> x = in.read();
        ap_uint<CFG::KP * CFG::PE * CFG::W_BITS> w[1];
        depthwise_wm<CFG>::read(weights, widx, w);  // once for the PX pixels
        ap_int<CFG::W_BITS + CFG::IN_BITS + 1> prod[CFG::PX][D::LANES];
#pragma HLS ARRAY_PARTITION variable = prod complete dim = 0
        depthwise_products<CFG>(w[0], x, prod);
        for (unsigned px = 0; px < CFG::PX; px++) {
#pragma HLS UNROLL
            for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                acc_t a = k == 0 ? bias[p][cf] : acc[px][p];
                for (unsigned q = 0; q < CFG::KP; q++) {  // the word's KP kernel positions of channel p
#pragma HLS UNROLL
                    a += prod[px][q * CFG::PE + p];
                }
                acc[px][p] = a;
            }
        }
        if (k == NK - 1) {
            for (unsigned px = 0; px < CFG::PX; px++) {
#pragma HLS UNROLL
                for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                    if (D::bank_t::SHARED)
                        bank.load(px * CFG::PE + p, acc[px][p], m[p][cf], shift[p][cf]);
                    else
                        set_lane<CFG::OUT_BITS>(y, px * CFG::PE + p,
                                                requantize<CFG::ACC_BITS>(acc[px][p], m[p][cf], shift[p][cf],
                                                                          CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI));
                }
            }
            if (D::bank_t::SHARED)
                bank.start();
            else
                out.write(y);
        }
        // Advance (cf, k: the word within the window); the weight index runs over CF*NK and restarts
        // with each group of pixels.
        if (++widx == CF * NK) widx = 0;
        if (++k == NK) {
            k = 0;
            if (++cf == CF) cf = 0;
        }
    }
}

}  // namespace fa

#endif  // FA_DEPTHWISE_H
