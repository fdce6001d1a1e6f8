// fpga-accel HLS library: the MVAU over PX input vectors at once (FINN's MMV): PX pixels per cycle
// share each weight word read, with the output channels and columns folded as in mvau.h.
//
// Computes mvau.h's outputs (acc[r] = bias[r] + sum_c W[r][c] * x[c], then requantize) for
// N_VECTORS vectors per image, PX of them side by side; PE output channels of the PX vectors per
// cycle, NF = MH/PE neuron folds, SF = MW/SIMD synapse folds.
// In : N_VECTORS/PX * IF words of PX*IN_SIMD lanes (IF = MW/IN_SIMD; IN_SIMD a multiple of SIMD
//      dividing MW, SIMD when absent): lane v*IN_SIMD + s of word j is column j*IN_SIMD + s of
//      vector v of the group (parallel_window.h's PX-pixel words, IN_SIMD = KP*C; for a 1x1
//      convolution without a window, PX whole pixels of the NHWC stream, IN_SIMD = MW). Word j is
//      read in fold 0's synapse fold j*IN_SIMD/SIMD and its SIMD-column slices used in turn; a
//      group's IF words (PX*MW elements) stay in a buffer for folds 1 .. NF-1, as mvau.h replays
//      one vector.
// Out: N_VECTORS/PX words of PX*MH lanes: lane v*MH + r is channel r of vector v (NHWC, PX whole
//      pixels); fold nf's PX*PE outputs fill lanes v*MH + nf*PE + p of a held word, written with
//      the last fold's.
// Cycles/image (II=1) = N_VECTORS/PX * NF * SF; plus STEPS per call when the requantisers are shared.
// Requantisers: RQ (config member; PX*PE when absent) shared by a fold's PX*PE outputs, which
// complete once every SF cycles (requant.h: requant_bank, RQ >= ceil(PX*PE / SF)); shared, a fold's
// outputs reach the held word STEPS = ceil(PX*PE / RQ) cycles after its last input word, and the
// group's word is written then.
// Multipliers: mvau.h's mvau_dot per vector (PACK, PACK_GROUP and MUL_FABRIC as there): PX*PE*SIMD
// products per cycle, the weights read once for all PX vectors.
//
// Parameters: mvau.h's arrays: the PE weight memories of NF*SF words (lane s of memory p's word
// nf*SF + sf = W[nf*PE + p][sf*SIMD + s], packed by weight_memory.h: WM_PES, WM_SLOTS), bias[PE][NF],
// m[PE][NF], shift[PE][NF] for channel nf*PE + p.
// Config: mvau.h's members (MW, MH, SIMD, PE, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS, ACC_BITS, OUT_BITS,
// OUT_ZP, OUT_LO, OUT_HI, PACK, PACK_SHIFT, MUL_FABRIC, optionally WM_PES, WM_SLOTS) and PX, which
// divides N_VECTORS; optionally RQ and IN_SIMD.
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

template <class T> struct mmv_void { typedef void type; };
// IN_SIMD of a config struct, SIMD when it has none (the input words are the synapse folds').
template <class CFG, class = void> struct mmv_in_simd { static const unsigned value = CFG::SIMD; };
template <class CFG> struct mmv_in_simd<CFG, typename mmv_void<decltype(CFG::IN_SIMD)>::type> {
    static const unsigned value = CFG::IN_SIMD;
};

template <class CFG> struct mvau_mmv_dims {
    static const unsigned NF = CFG::MH / CFG::PE;
    static const unsigned SF = CFG::MW / CFG::SIMD;
    static const unsigned TILES = NF * SF;
    static const unsigned LANES = CFG::PX * CFG::PE;  // a fold's outputs
    static const unsigned IN_SIMD = mmv_in_simd<CFG>::value;
    static const unsigned IF = CFG::MW / IN_SIMD;     // input words per group
    static const unsigned SPAN = IN_SIMD / CFG::SIMD;  // synapse folds per input word
    typedef requant_bank<CFG::ACC_BITS, CFG::OUT_BITS, LANES, requantisers<CFG, LANES>::value> bank_t;
    static const unsigned DRAIN = bank_t::SHARED ? bank_t::STEPS : 0;  // iterations a call adds
    typedef ap_uint<CFG::PX * IN_SIMD * CFG::IN_BITS> in_t;
    typedef ap_uint<CFG::PX * CFG::MH * CFG::OUT_BITS> out_t;
};

// Fold nf's PX*PE requantised outputs (lane v*PE + p of `fold`) into lanes v*MH + nf*PE + p of `y`.
template <class CFG>
void mmv_place(typename mvau_mmv_dims<CFG>::out_t& y, const ap_uint<CFG::PX * CFG::PE * CFG::OUT_BITS>& fold,
               unsigned nf) {
#pragma HLS INLINE
    for (unsigned v = 0; v < CFG::PX; v++) {
#pragma HLS UNROLL
        for (unsigned f = 0; f < mvau_mmv_dims<CFG>::NF; f++) {
#pragma HLS UNROLL
            if (f != nf) continue;  // a mux of NF per output lane
            const unsigned lo = (v * CFG::MH + f * CFG::PE) * CFG::OUT_BITS;
            y.range(lo + CFG::PE * CFG::OUT_BITS - 1, lo) =
                fold.range((v + 1) * CFG::PE * CFG::OUT_BITS - 1, v * CFG::PE * CFG::OUT_BITS);
        }
    }
}

#ifndef __SYNTHESIS__
namespace sim {
// mvau_mmv() for C simulation: the same words and FA_CYCLE count, one dense dot product per vector
// and channel over lanes unpacked once (exact whatever PACK says, as mvau_fast).
template <class CFG>
void mvau_mmv_fast(hls::stream<typename mvau_mmv_dims<CFG>::in_t>& in,
                   hls::stream<typename mvau_mmv_dims<CFG>::out_t>& out, FA_MVAU_WEIGHTS(CFG, mvau_mmv_dims<CFG>::TILES),
                   const ap_int<CFG::ACC_BITS> bias[CFG::PE][mvau_mmv_dims<CFG>::NF],
                   const mult_t m[CFG::PE][mvau_mmv_dims<CFG>::NF], const shift_t shift[CFG::PE][mvau_mmv_dims<CFG>::NF],
                   unsigned reps) {
    typedef mvau_mmv_dims<CFG> D;
    typedef typename acc_native<CFG::ACC_BITS>::type U;
    static const unsigned MW = CFG::MW, MH = CFG::MH, PE = CFG::PE, SIMD = CFG::SIMD, PX = CFG::PX, SF = D::SF;
    static const unsigned IN_SIMD = D::IN_SIMD;
    std::vector<U> w((size_t)MH * MW), b(MH), x((size_t)PX * MW), lanes((size_t)PX * IN_SIMD);
    std::vector<uint64_t> mr(MH);
    std::vector<unsigned> sr(MH);
    for (unsigned p = 0; p < PE; p++) {
        for (unsigned tile = 0; tile < D::TILES; tile++) {  // lane s of memory p's word nf*SF + sf
            const unsigned r = tile / SF * PE + p, c = tile % SF * SIMD;
            unpack_word<SIMD, CFG::W_BITS, true>(mvau_wm<CFG, D::TILES>::at(weights, p, tile), &w[(size_t)r * MW + c]);
        }
        for (unsigned nf = 0; nf < D::NF; nf++) {
            b[nf * PE + p] = (U)bias[p][nf].to_int64();
            mr[nf * PE + p] = m[p][nf].to_uint64();
            sr[nf * PE + p] = shift[p][nf].to_uint();
        }
    }
    std::vector<int> y((size_t)PX * MH);
    delayed_writer<typename D::out_t> wr(out, D::DRAIN);
    // FA_CYCLE advances as the loop's: a group's reads in iterations (0, sf), its last fold complete
    // in (NF - 1, SF - 1) and its word written then or, shared, DRAIN iterations later.
    for (unsigned g = 0; g < CFG::N_VECTORS / PX * reps; g++) {
        for (unsigned sf = 0; sf < SF; sf++) {
            ++cycles();
            if (sf % D::SPAN == 0) {  // word j is read in synapse fold j*SPAN
                unpack_word<PX * IN_SIMD, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), lanes.data());
                const unsigned j = sf / D::SPAN;
                for (unsigned v = 0; v < PX; v++)
                    for (unsigned s = 0; s < IN_SIMD; s++)
                        x[(size_t)v * MW + j * IN_SIMD + s] = lanes[(size_t)v * IN_SIMD + s];
            }
            wr.tick();
        }
        if (D::NF > 1) wr.advance(cycles() + (D::NF - 1) * SF);
        for (unsigned v = 0; v < PX; v++)
            for (unsigned r = 0; r < MH; r++) {
                const U* wr_ = &w[(size_t)r * MW];
                const U* xv = &x[(size_t)v * MW];
                U a = b[r];
                for (unsigned c = 0; c < MW; c++) a += wr_[c] * xv[c];
                y[(size_t)v * MH + r] = requantize_i64<CFG::ACC_BITS>(wrap<CFG::ACC_BITS>(a), mr[r], sr[r], CFG::OUT_ZP,
                                                                      CFG::OUT_LO, CFG::OUT_HI);
            }
        wr.complete(pack_word<PX * MH, CFG::OUT_BITS>(y.data()));
    }
    wr.drain();
}
}  // namespace sim
#endif

template <class CFG>
void mvau_mmv(hls::stream<typename mvau_mmv_dims<CFG>::in_t>& in, hls::stream<typename mvau_mmv_dims<CFG>::out_t>& out,
              FA_MVAU_WEIGHTS(CFG, mvau_mmv_dims<CFG>::TILES),
              const ap_int<CFG::ACC_BITS> bias[CFG::PE][mvau_mmv_dims<CFG>::NF],
              const mult_t m[CFG::PE][mvau_mmv_dims<CFG>::NF], const shift_t shift[CFG::PE][mvau_mmv_dims<CFG>::NF],
              unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    typedef mvau_mmv_dims<CFG> D;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static const unsigned SF = D::SF, NF = D::NF;
    static_assert(CFG::MH % CFG::PE == 0, "PE must divide MH");
    static_assert(CFG::MW % CFG::SIMD == 0, "SIMD must divide MW");
    static_assert(CFG::MW % D::IN_SIMD == 0 && D::IN_SIMD % CFG::SIMD == 0, "IN_SIMD: a multiple of SIMD dividing MW");
    static_assert(CFG::N_VECTORS % CFG::PX == 0, "PX must divide N_VECTORS");
    static_assert(!D::bank_t::SHARED || D::bank_t::STEPS <= SF, "RQ too few: a fold's steps outlast its SF inputs");
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::mvau_mmv_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    typename D::in_t inbuf[D::IF];  // the group's PX vectors, replayed for slices and folds after their read
    acc_t acc[CFG::PX][CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 0
    typename D::bank_t bank;
#pragma HLS ARRAY_PARTITION variable = bank.acc complete
#pragma HLS ARRAY_PARTITION variable = bank.m complete
#pragma HLS ARRAY_PARTITION variable = bank.shift complete
    typename D::out_t y = 0;  // the group's PX whole pixels, filled fold by fold
    unsigned nf = 0, sf = 0, tile = 0, bank_nf = 0;
    const unsigned total = CFG::N_VECTORS / CFG::PX * D::TILES * reps;
    for (unsigned i = 0; i < total + D::DRAIN; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        typename D::bank_t::word_t held = 0;
        if (D::bank_t::SHARED && bank.tick(CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI, held)) {  // before a load
            mmv_place<CFG>(y, held, bank_nf);
            if (bank_nf == NF - 1) out.write(y);
        }
        if (i >= total) continue;  // the drain: the last fold's requantise steps only
        typename D::in_t xw;
        if (nf == 0 && sf % D::SPAN == 0) {
            xw = in.read();
            inbuf[sf / D::SPAN] = xw;
        } else {
            xw = inbuf[sf / D::SPAN];
        }
        ap_uint<CFG::PX * CFG::SIMD * CFG::IN_BITS> xs = 0;  // slice sf % SPAN of each vector's columns
        for (unsigned v = 0; v < CFG::PX; v++) {
#pragma HLS UNROLL
            for (unsigned q = 0; q < D::SPAN; q++) {
#pragma HLS UNROLL
                if (q != sf % D::SPAN) continue;  // a mux of SPAN per lane bit
                const unsigned lo = (v * D::IN_SIMD + q * CFG::SIMD) * CFG::IN_BITS;
                xs.range((v + 1) * CFG::SIMD * CFG::IN_BITS - 1, v * CFG::SIMD * CFG::IN_BITS) =
                    xw.range(lo + CFG::SIMD * CFG::IN_BITS - 1, lo);
            }
        }
        ap_uint<CFG::SIMD * CFG::W_BITS> w[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = w complete
        mvau_wm<CFG, D::TILES>::read(weights, tile, w);  // one weight word per PE, shared by the PX vectors
        ap_uint<D::LANES * CFG::OUT_BITS> fold = 0;
        for (unsigned v = 0; v < CFG::PX; v++) {
#pragma HLS UNROLL
            const ap_uint<CFG::SIMD * CFG::IN_BITS> x = xs.range((v + 1) * CFG::SIMD * CFG::IN_BITS - 1,
                                                                 v * CFG::SIMD * CFG::IN_BITS);
            ap_int<CFG::ACC_BITS> sum[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = sum complete
            mvau_dot<CFG>(w, x, sum);
            for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                const acc_t a = (sf == 0 ? bias[p][nf] : acc[v][p]) + sum[p];
                acc[v][p] = a;
                if (D::bank_t::SHARED) {
                    if (sf == SF - 1) bank.load(v * CFG::PE + p, a, m[p][nf], shift[p][nf]);
                } else {
                    set_lane<CFG::OUT_BITS>(fold, v * CFG::PE + p, requantize<CFG::ACC_BITS>(a, m[p][nf], shift[p][nf],
                                                                                              CFG::OUT_ZP, CFG::OUT_LO,
                                                                                              CFG::OUT_HI));
                }
            }
        }
        if (sf == SF - 1) {
            if (D::bank_t::SHARED) {
                bank.start();
                bank_nf = nf;
            } else {
                mmv_place<CFG>(y, fold, nf);
                if (nf == NF - 1) out.write(y);
            }
        }
        // Advance (nf, sf); the tile index runs over NF*SF and restarts with each group.
        if (++tile == D::TILES) tile = 0;
        if (++sf == SF) {
            sf = 0;
            if (++nf == NF) nf = 0;
        }
    }
}

}  // namespace fa

#endif  // FA_MVAU_MMV_H
