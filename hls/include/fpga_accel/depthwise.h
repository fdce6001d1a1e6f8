// fpga-accel HLS library: depthwise convolution PE (per-channel dot product over the K x K window).
//
// For each output pixel and channel c (group = C, one filter per channel):
//   acc[c] = bias[c] + sum_{ky,kx} w[c][ky][kx] * x[oy*SH - PAD_T + ky*DH][ox*SW - PAD_L + kx*DW][c]
//   y[c]   = requantize(acc[c], M[c], shift[c], OUT_ZP, OUT_LO, OUT_HI)
// with x the stored input integers and the input zero point folded into the bias (padding carries it).
//
// In : the sliding_window stream in DEPTHWISE order with SIMD == PE: per output pixel, for each
//      channel group cf = 0..CF-1 (CF = C/PE), the K = KH*KW window words of PE channels, kx fastest.
// Out: per output pixel CF words of PE channels (lane p = channel cf*PE + p): NHWC, channels fastest.
// Folding: PE channels in parallel, one kernel tap per cycle.
// Cycles/image (II=1) = N_VECTORS * CF * K = OH*OW * (C/PE) * KH*KW.
//
// Parameters: weights: one memory of CF*K words of PE*W_BITS bits, lane p of word cf*K + ky*KW + kx =
//             w[cf*PE + p][ky][kx], packed as weight_memory.h lays it out (WM_SLOTS words per row);
//             bias[PE][CF] (ap_int<ACC_BITS>), m[PE][CF], shift[PE][CF] for channel cf*PE + p.
// Config: struct with static const members C, PE, K, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS, ACC_BITS,
// OUT_BITS, OUT_ZP, OUT_LO, OUT_HI, and optionally WM_SLOTS (WM_PES is 1: there is one memory).
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
template <class CFG> struct depthwise_wm : pe_weights<CFG, 1, CFG::PE * CFG::W_BITS, CFG::C / CFG::PE * CFG::K> {};
#define FA_DEPTHWISE_WEIGHTS(CFG) \
    const typename depthwise_wm<CFG>::word_t weights[depthwise_wm<CFG>::BANKS][depthwise_wm<CFG>::DEPTH]

#ifndef __SYNTHESIS__
namespace sim {
// depthwise() for C simulation: the same words and FA_CYCLE count, with native lanes and modular sums
// (see types.h: wrap() of the native sum is the ap_int<ACC_BITS> sum).
template <class CFG>
void depthwise_fast(hls::stream<ap_uint<CFG::PE * CFG::IN_BITS> >& in,
                    hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
                    FA_DEPTHWISE_WEIGHTS(CFG),
                    const ap_int<CFG::ACC_BITS> bias[CFG::PE][CFG::C / CFG::PE],
                    const mult_t m[CFG::PE][CFG::C / CFG::PE], const shift_t shift[CFG::PE][CFG::C / CFG::PE],
                    unsigned reps) {
    typedef typename acc_native<CFG::ACC_BITS>::type U;
    static const unsigned CF = CFG::C / CFG::PE, PE = CFG::PE, K = CFG::K;
    std::vector<U> w((size_t)CF * K * PE);  // [cf][k][p], as the weight words
    for (unsigned i = 0; i < CF * K; i++)
        unpack_word<PE, CFG::W_BITS, true>(depthwise_wm<CFG>::at(weights, 0, i), &w[(size_t)i * PE]);
    U x[PE], a[PE];
    int y[PE];
    for (unsigned v = 0; v < CFG::N_VECTORS * reps; v++) {
        for (unsigned cf = 0; cf < CF; cf++) {
            for (unsigned p = 0; p < PE; p++) a[p] = (U)bias[p][cf].to_int64();
            for (unsigned k = 0; k < K; k++) {  // one FA_CYCLE iteration per tap, as the loop's
                ++cycles();
                unpack_word<PE, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), x);
                const U* wk = &w[((size_t)cf * K + k) * PE];
                for (unsigned p = 0; p < PE; p++) a[p] += wk[p] * x[p];
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
void depthwise(hls::stream<ap_uint<CFG::PE * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
               FA_DEPTHWISE_WEIGHTS(CFG),
               const ap_int<CFG::ACC_BITS> bias[CFG::PE][CFG::C / CFG::PE], const mult_t m[CFG::PE][CFG::C / CFG::PE],
               const shift_t shift[CFG::PE][CFG::C / CFG::PE], unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    static const unsigned CF = CFG::C / CFG::PE;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static_assert(CFG::C % CFG::PE == 0, "PE must divide C");
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::depthwise_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    acc_t acc[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete
    unsigned k = 0, cf = 0, widx = 0;
    const unsigned total = CFG::N_VECTORS * CF * CFG::K * reps;
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::PE * CFG::IN_BITS> x = in.read();
        ap_uint<CFG::PE * CFG::W_BITS> w[1];
        depthwise_wm<CFG>::read(weights, widx, w);
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            acc_t a = k == 0 ? bias[p][cf] : acc[p];
            a += get_lane<CFG::W_BITS, true>(w[0], p) * get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(x, p);
            acc[p] = a;
        }
        if (k == CFG::K - 1) {
            ap_uint<CFG::PE * CFG::OUT_BITS> y = 0;
            for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                set_lane<CFG::OUT_BITS>(y, p, requantize<CFG::ACC_BITS>(acc[p], m[p][cf], shift[p][cf], CFG::OUT_ZP,
                                                                        CFG::OUT_LO, CFG::OUT_HI));
            }
            out.write(y);
        }
        // Advance (cf, k); the weight index runs over CF*K and restarts with each pixel.
        if (++widx == CF * CFG::K) widx = 0;
        if (++k == CFG::K) {
            k = 0;
            if (++cf == CF) cf = 0;
        }
    }
}

}  // namespace fa

#endif  // FA_DEPTHWISE_H
