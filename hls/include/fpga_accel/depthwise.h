// fpga-accel HLS library: depthwise convolution PE (per-channel dot product over the K x K window).
//
// For each output pixel and channel c (group = C, one filter per channel):
//   acc[c] = bias[c] + sum_{ky,kx} w[c][ky][kx] * x[oy*SH - PAD_T + ky*DH][ox*SW - PAD_L + kx*DW][c]
//   y[c]   = requantize(acc[c], M[c], shift[c], OUT_ZP, OUT_LO, OUT_HI)
// with x the stored input integers and the input zero point folded into the bias (padding carries it).
//
// In : per output pixel, for each channel group cf = 0..CF-1 (CF = C/PE), NK = K/KP words of KP*PE
//      lanes: lane q*PE + p of word j is channel cf*PE + p at kernel position t = j*KP + q
//      (t = ky*KW + kx). KP = 1: the sliding_window stream in DEPTHWISE order with SIMD == PE (kx
//      fastest); KP > 1 with PE == C: the parallel_window stream with SIMD = KP*C (its lane
//      q*C + c is channel c of position j*KP + q: the same layout).
// Out: per output pixel CF words of PE channels (lane p = channel cf*PE + p): NHWC, channels fastest.
// Folding: PE channels x KP kernel positions in parallel (PE*KP products per cycle).
// Cycles/image (II=1) = N_VECTORS * CF * K/KP = OH*OW * (C/PE) * KH*KW/KP.
//
// Parameters: weights: one memory of CF*NK words of KP*PE*W_BITS bits, lane q*PE + p of word cf*NK + j =
//             w[cf*PE + p][j*KP + q], packed as weight_memory.h lays it out (WM_SLOTS words per row);
//             bias[PE][CF] (ap_int<ACC_BITS>), m[PE][CF], shift[PE][CF] for channel cf*PE + p.
// Config: struct with static const members C, PE, KP, K, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS,
// ACC_BITS, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI (KP divides K), and optionally WM_SLOTS (WM_PES is 1:
// there is one memory).
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

#ifndef __SYNTHESIS__
namespace sim {
// depthwise() for C simulation: the same words and FA_CYCLE count, with native lanes and modular sums
// (see types.h: wrap() of the native sum is the ap_int<ACC_BITS> sum).
template <class CFG>
void depthwise_fast(hls::stream<ap_uint<CFG::KP * CFG::PE * CFG::IN_BITS> >& in,
                    hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
                    FA_DEPTHWISE_WEIGHTS(CFG),
                    const ap_int<CFG::ACC_BITS> bias[CFG::PE][CFG::C / CFG::PE],
                    const mult_t m[CFG::PE][CFG::C / CFG::PE], const shift_t shift[CFG::PE][CFG::C / CFG::PE],
                    unsigned reps) {
    typedef typename acc_native<CFG::ACC_BITS>::type U;
    static const unsigned CF = CFG::C / CFG::PE, PE = CFG::PE, L = CFG::KP * CFG::PE, NK = CFG::K / CFG::KP;
    std::vector<U> w((size_t)CF * NK * L);  // [cf][j][q*PE + p], as the weight words
    for (unsigned i = 0; i < CF * NK; i++)
        unpack_word<L, CFG::W_BITS, true>(depthwise_wm<CFG>::at(weights, 0, i), &w[(size_t)i * L]);
    U x[L], a[PE];
    int y[PE];
    for (unsigned v = 0; v < CFG::N_VECTORS * reps; v++) {
        for (unsigned cf = 0; cf < CF; cf++) {
            for (unsigned p = 0; p < PE; p++) a[p] = (U)bias[p][cf].to_int64();
            for (unsigned j = 0; j < NK; j++) {  // one FA_CYCLE iteration per word, as the loop's
                ++cycles();
                unpack_word<L, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), x);
                const U* wj = &w[((size_t)cf * NK + j) * L];
                for (unsigned l = 0; l < L; l++) a[l % PE] += wj[l] * x[l];
            }
            for (unsigned p = 0; p < PE; p++)
                y[p] = requantize_i64<CFG::ACC_BITS>(wrap<CFG::ACC_BITS>(a[p]), m[p][cf].to_uint64(), shift[p][cf].to_uint(),
                                                     CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI);
            out.write(pack_word<PE, CFG::OUT_BITS>(y));
        }
    }
}
}  // namespace sim
#endif

template <class CFG>
void depthwise(hls::stream<ap_uint<CFG::KP * CFG::PE * CFG::IN_BITS> >& in,
               hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
               FA_DEPTHWISE_WEIGHTS(CFG),
               const ap_int<CFG::ACC_BITS> bias[CFG::PE][CFG::C / CFG::PE], const mult_t m[CFG::PE][CFG::C / CFG::PE],
               const shift_t shift[CFG::PE][CFG::C / CFG::PE], unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    static const unsigned CF = CFG::C / CFG::PE, NK = CFG::K / CFG::KP;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static_assert(CFG::C % CFG::PE == 0, "PE must divide C");
    static_assert(CFG::K % CFG::KP == 0, "KP must divide K");
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::depthwise_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    acc_t acc[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
    unsigned k = 0, cf = 0, widx = 0;
    const unsigned total = CFG::N_VECTORS * CF * NK * reps;
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::KP * CFG::PE * CFG::IN_BITS> x = in.read();
        ap_uint<CFG::KP * CFG::PE * CFG::W_BITS> w[1];
        depthwise_wm<CFG>::read(weights, widx, w);
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            acc_t a = k == 0 ? bias[p][cf] : acc[p];
            for (unsigned q = 0; q < CFG::KP; q++) {  // the word's KP kernel positions of channel p
#pragma HLS UNROLL
                const unsigned l = q * CFG::PE + p;
                a += get_lane<CFG::W_BITS, true>(w[0], l) * get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(x, l);
            }
            acc[p] = a;
        }
        if (k == NK - 1) {
            ap_uint<CFG::PE * CFG::OUT_BITS> y = 0;
            for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                set_lane<CFG::OUT_BITS>(y, p, requantize<CFG::ACC_BITS>(acc[p], m[p][cf], shift[p][cf], CFG::OUT_ZP,
                                                                        CFG::OUT_LO, CFG::OUT_HI));
            }
            out.write(y);
        }
        // Advance (cf, k: the word within the window); the weight index runs over CF*NK and restarts
        // with each pixel.
        if (++widx == CF * NK) widx = 0;
        if (++k == NK) {
            k = 0;
            if (++cf == CF) cf = 0;
        }
    }
}

}  // namespace fa

#endif  // FA_DEPTHWISE_H
