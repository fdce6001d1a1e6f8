// fpga-accel HLS library: the MVAU over PX input vectors at once (FINN's MMV), every output channel
// in parallel: PX pixels per cycle share each weight word read.
//
// Computes mvau.h's outputs (acc[r] = bias[r] + sum_c W[r][c] * x[c], then requantize) for
// N_VECTORS vectors per image, PX of them side by side, with PE = MH (one neuron fold).
// In : N_VECTORS/PX * SF words of PX*SIMD lanes: lane v*SIMD + s of word sf is column sf*SIMD + s
//      of vector v of the group (parallel_window.h's PX-pixel words; for a 1x1 convolution without
//      a window, PX whole pixels of the NHWC stream with SIMD = MW).
// Out: N_VECTORS/PX words of PX*MH lanes: lane v*MH + r is channel r of vector v (NHWC, PX pixels).
// Folding: MH output channels x SIMD columns x PX vectors per cycle; SF = MW/SIMD synapse folds.
// Cycles/image (II=1) = N_VECTORS/PX * SF; plus STEPS per call when the requantisers are shared.
// Requantisers: RQ (config member; PX*MH when absent) shared by a group's PX*MH outputs, which
// complete once every SF cycles (requant.h: requant_bank, RQ >= ceil(PX*MH / SF)); shared, a word is
// written STEPS = ceil(PX*MH / RQ) cycles after the group's last input word.
// Multipliers: mvau.h's mvau_products per vector (PACK and MUL_FABRIC as there): PX*MH*SIMD
// products per cycle, the weights read once for all PX vectors.
//
// Parameters: mvau.h's arrays with NF = 1: weights[PE][SF] (lane s of weights[p][sf] =
// W[p][sf*SIMD + s]), bias[PE][1], m[PE][1], shift[PE][1].
// Config: mvau.h's members (MW, MH, SIMD, PE = MH, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS, ACC_BITS,
// OUT_BITS, OUT_ZP, OUT_LO, OUT_HI, PACK, PACK_SHIFT, MUL_FABRIC) and PX, which divides N_VECTORS; optionally RQ.
#ifndef FA_MVAU_MMV_H
#define FA_MVAU_MMV_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/mvau.h"
#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"

#ifndef __SYNTHESIS__
#include <vector>
#endif

namespace fa {

template <class CFG> struct mvau_mmv_dims {
    typedef requant_bank<CFG::ACC_BITS, CFG::OUT_BITS, CFG::PX * CFG::PE, requantisers<CFG, CFG::PX * CFG::PE>::value>
        bank_t;
    static const unsigned DRAIN = bank_t::SHARED ? bank_t::STEPS : 0;  // iterations a call adds
};

#ifndef __SYNTHESIS__
namespace sim {
// mvau_mmv() for C simulation: the same words and FA_CYCLE count, one dense dot product per vector
// and channel over lanes unpacked once (exact whatever PACK says, as mvau_fast).
template <class CFG>
void mvau_mmv_fast(hls::stream<ap_uint<CFG::PX * CFG::SIMD * CFG::IN_BITS> >& in,
                   hls::stream<ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS> >& out,
                   const ap_uint<CFG::SIMD * CFG::W_BITS> weights[CFG::PE][CFG::MW / CFG::SIMD],
                   const ap_int<CFG::ACC_BITS> bias[CFG::PE][1], const mult_t m[CFG::PE][1],
                   const shift_t shift[CFG::PE][1], unsigned reps) {
    typedef typename acc_native<CFG::ACC_BITS>::type U;
    static const unsigned MW = CFG::MW, PE = CFG::PE, SIMD = CFG::SIMD, PX = CFG::PX, SF = MW / SIMD;
    std::vector<U> w((size_t)PE * MW), x((size_t)PX * MW), lanes((size_t)PX * SIMD);
    for (unsigned p = 0; p < PE; p++)
        for (unsigned sf = 0; sf < SF; sf++) unpack_word<SIMD, CFG::W_BITS, true>(weights[p][sf], &w[(size_t)p * MW + sf * SIMD]);
    std::vector<int> y((size_t)PX * PE);
    delayed_writer<ap_uint<PX * PE * CFG::OUT_BITS> > wr(out, mvau_mmv_dims<CFG>::DRAIN);
    for (unsigned g = 0; g < CFG::N_VECTORS / PX * reps; g++) {
        for (unsigned sf = 0; sf < SF; sf++) {
            ++cycles();
            unpack_word<PX * SIMD, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), lanes.data());
            wr.tick();
            for (unsigned v = 0; v < PX; v++)
                for (unsigned s = 0; s < SIMD; s++) x[(size_t)v * MW + sf * SIMD + s] = lanes[(size_t)v * SIMD + s];
        }
        for (unsigned v = 0; v < PX; v++)
            for (unsigned p = 0; p < PE; p++) {
                const U* wr = &w[(size_t)p * MW];
                const U* xv = &x[(size_t)v * MW];
                U a = (U)bias[p][0].to_int64();
                for (unsigned c = 0; c < MW; c++) a += wr[c] * xv[c];
                y[(size_t)v * PE + p] = requantize_i64<CFG::ACC_BITS>(wrap<CFG::ACC_BITS>(a), m[p][0].to_uint64(),
                                                                      shift[p][0].to_uint(), CFG::OUT_ZP, CFG::OUT_LO,
                                                                      CFG::OUT_HI);
            }
        wr.complete(pack_word<PX * PE, CFG::OUT_BITS>(y.data()));
    }
    wr.drain();
}
}  // namespace sim
#endif

template <class CFG>
void mvau_mmv(hls::stream<ap_uint<CFG::PX * CFG::SIMD * CFG::IN_BITS> >& in,
              hls::stream<ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS> >& out,
              const ap_uint<CFG::SIMD * CFG::W_BITS> weights[CFG::PE][CFG::MW / CFG::SIMD],
              const ap_int<CFG::ACC_BITS> bias[CFG::PE][1], const mult_t m[CFG::PE][1], const shift_t shift[CFG::PE][1],
              unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    static const unsigned SF = CFG::MW / CFG::SIMD;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static_assert(CFG::PE == CFG::MH, "pixel parallelism computes every output channel at once (PE = MH)");
    static_assert(CFG::MW % CFG::SIMD == 0, "SIMD must divide MW");
    static_assert(CFG::N_VECTORS % CFG::PX == 0, "PX must divide N_VECTORS");
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::mvau_mmv_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    typedef mvau_mmv_dims<CFG> D;
    static_assert(!D::bank_t::SHARED || D::bank_t::STEPS <= SF, "RQ too few: a word's steps outlast its SF inputs");
    acc_t acc[CFG::PX][CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
    typename D::bank_t bank;
#pragma HLS ARRAY_PARTITION variable = bank.acc complete
#pragma HLS ARRAY_PARTITION variable = bank.m complete
#pragma HLS ARRAY_PARTITION variable = bank.shift complete
    unsigned sf = 0;
    const unsigned total = CFG::N_VECTORS / CFG::PX * SF * reps;
    for (unsigned i = 0; i < total + D::DRAIN; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS> held = 0;
        if (D::bank_t::SHARED && bank.tick(CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI, held)) out.write(held);  // before a load
        if (i >= total) continue;  // the drain: the last word's requantise steps only
        const ap_uint<CFG::PX * CFG::SIMD * CFG::IN_BITS> xs = in.read();
        ap_uint<CFG::SIMD * CFG::W_BITS> w[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = w complete
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            w[p] = weights[p][sf];  // one weight word per PE, shared by the PX vectors
        }
        ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS> y = 0;
        for (unsigned v = 0; v < CFG::PX; v++) {
#pragma HLS UNROLL
            const ap_uint<CFG::SIMD * CFG::IN_BITS> x = xs.range((v + 1) * CFG::SIMD * CFG::IN_BITS - 1,
                                                                 v * CFG::SIMD * CFG::IN_BITS);
            ap_int<CFG::W_BITS + CFG::IN_BITS> prod[CFG::PE][CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = prod complete dim = 0
            mvau_products<CFG>(w, x, prod);
            for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                acc_t a = sf == 0 ? bias[p][0] : acc[v][p];
                for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
                    a += prod[p][s];
                }
                acc[v][p] = a;
                if (D::bank_t::SHARED) {
                    if (sf == SF - 1) bank.load(v * CFG::PE + p, a, m[p][0], shift[p][0]);
                } else {
                    set_lane<CFG::OUT_BITS>(y, v * CFG::PE + p, requantize<CFG::ACC_BITS>(a, m[p][0], shift[p][0],
                                                                                           CFG::OUT_ZP, CFG::OUT_LO,
                                                                                           CFG::OUT_HI));
                }
            }
        }
        if (sf == SF - 1) {
            if (D::bank_t::SHARED)
                bank.start();
            else
                out.write(y);
        }
        if (++sf == SF) sf = 0;
    }
}

}  // namespace fa

#endif  // FA_MVAU_MMV_H
