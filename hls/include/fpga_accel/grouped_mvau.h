// fpga-accel HLS library: grouped matrix-vector unit for a Conv with 1 < group (ShuffleNet v1, ResNeXt).
//
// Input: the windows of sliding_window in MVAU order, column t*C + c (t = ky*KW + kx < K = KH*KW),
// N_VECTORS per image. Output channel r belongs to group g = r / MG (MG = MH/G output channels per
// group, CG = C/G input channels per group) and reads only its group's K*CG columns:
//   acc[r] = bias[r] + sum_{t<K, c<CG} W[r][t*CG + c] * x[t*C + g*CG + c]
//   y[r]   = requantize(acc[r], M[r], shift[r], OUT_ZP, OUT_LO, OUT_HI)
// x holds the stored input integers (the input zero point is folded into the bias), as in mvau.h.
//
// Folding rule: PE output channels within one group (PE divides MG), SIMD input channels within one
// group (SIMD divides CG), so every fold of PE channels reads the words of one group only.
//   NF = MH/PE folds (NFG = MG/PE per group), SFG = K*CG/SIMD words of one group per fold,
//   SF_ALL = K*C/SIMD words per window, TILES = NF*SFG  (SF_ALL <= TILES since PE <= MG).
// In: N_VECTORS*SF_ALL words of SIMD elements. Out: N_VECTORS*NF words of PE elements, word nf lane p
// = channel nf*PE + p (NHWC, channels fastest), as mvau.h.
// Schedule: a two-bank window buffer; in the TILES iterations of window v, window v is read into one
// bank (one word per iteration, the first SF_ALL iterations) while window v-1 is computed from the
// other; a call ends with one window's computation and nothing read.
// Cycles/call (II=1) = (N_VECTORS*reps + 1) * TILES = N_VECTORS*reps*(MH/PE)*(K*CG/SIMD) + TILES.
//
// Parameters (first dimension partitioned so all PEs read in parallel):
//   weights: PE memories of NF*SFG words, lane s of memory p's word nf*SFG + sf = W[nf*PE + p][sf*SIMD + s]
//            (each output channel's own K*CG columns in window order: mvau.h's layout, MW = K*CG), packed
//            as weight_memory.h lays them out (WM_PES, WM_SLOTS)
//   bias, m, shift[PE][NF]: the constants of channel nf*PE + p, as mvau.h.
// Config: struct with static const members C, G, K, MH, SIMD, PE, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS,
// ACC_BITS, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI, PACK, PACK_SHIFT, MUL_FABRIC (the multipliers of mvau.h), and
// optionally WM_PES, WM_SLOTS (the weights' packing).
#ifndef FA_GROUPED_MVAU_H
#define FA_GROUPED_MVAU_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/mvau.h"
#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"

#ifndef __SYNTHESIS__
#include <utility>
#include <vector>
#endif

namespace fa {

template <class CFG> struct grouped_mvau_dims {
    static const unsigned CG = CFG::C / CFG::G, MG = CFG::MH / CFG::G;
    static const unsigned NF = CFG::MH / CFG::PE, NFG = MG / CFG::PE;
    static const unsigned CW = CFG::C / CFG::SIMD, CGW = CG / CFG::SIMD;  // words per pixel, per group's pixel
    static const unsigned SFG = CFG::K * CGW, SF_ALL = CFG::K * CW;
    static const unsigned TILES = NF * SFG;
};

#ifndef __SYNTHESIS__
namespace sim {
// grouped_mvau() for C simulation: the same words in and out, in the same iterations (FA_CYCLE), each
// window's outputs computed as dense dot products over its group's lanes unpacked once.
template <class CFG>
void grouped_mvau_fast(hls::stream<ap_uint<CFG::SIMD * CFG::IN_BITS> >& in,
                       hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
                       FA_MVAU_WEIGHTS(CFG, grouped_mvau_dims<CFG>::TILES),
                       const ap_int<CFG::ACC_BITS> bias[CFG::PE][grouped_mvau_dims<CFG>::NF],
                       const mult_t m[CFG::PE][grouped_mvau_dims<CFG>::NF],
                       const shift_t shift[CFG::PE][grouped_mvau_dims<CFG>::NF], unsigned reps) {
    typedef grouped_mvau_dims<CFG> D;
    typedef typename acc_native<CFG::ACC_BITS>::type U;
    static const unsigned SIMD = CFG::SIMD, PE = CFG::PE, KCG = CFG::K * D::CG;
    std::vector<U> w((size_t)CFG::MH * KCG), x((size_t)D::SF_ALL * SIMD), prev(x.size()), b(CFG::MH);
    std::vector<uint64_t> mr(CFG::MH);
    std::vector<unsigned> sr(CFG::MH);
    for (unsigned p = 0; p < PE; p++) {
        for (unsigned tile = 0; tile < D::TILES; tile++) {  // lane s of weights[p][nf*SFG + sf]
            const unsigned r = tile / D::SFG * PE + p, c = tile % D::SFG * SIMD;
            unpack_word<SIMD, CFG::W_BITS, true>(mvau_wm<CFG, D::TILES>::at(weights, p, tile), &w[(size_t)r * KCG + c]);
        }
        for (unsigned nf = 0; nf < D::NF; nf++) {
            b[nf * PE + p] = (U)bias[p][nf].to_int64();
            mr[nf * PE + p] = m[p][nf].to_uint64();
            sr[nf * PE + p] = shift[p][nf].to_uint();
        }
    }
    int y[PE];
    const unsigned n = CFG::N_VECTORS * reps;
    for (unsigned v = 0; v <= n; v++) {  // as the loop: window v read while window v-1 is written
        std::swap(x, prev);
        for (unsigned i = 0; i < D::TILES; i++) {
            ++cycles();
            if (v < n && i < D::SF_ALL) unpack_word<SIMD, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), &x[i * SIMD]);
            if (v == 0 || i % D::SFG != D::SFG - 1) continue;
            const unsigned nf = i / D::SFG;
            for (unsigned p = 0; p < PE; p++) {
                const unsigned r = nf * PE + p, g = r / D::MG;
                const U* wr = &w[(size_t)r * KCG];
                U a = b[r];
                for (unsigned t = 0; t < CFG::K; t++)
                    for (unsigned c = 0; c < D::CG; c++) a += wr[t * D::CG + c] * prev[t * CFG::C + g * D::CG + c];
                y[p] = requantize_i64<CFG::ACC_BITS>(wrap<CFG::ACC_BITS>(a), mr[r], sr[r], CFG::OUT_ZP, CFG::OUT_LO,
                                                     CFG::OUT_HI);
            }
            out.write(pack_word<PE, CFG::OUT_BITS>(y));
        }
    }
}
}  // namespace sim
#endif

template <class CFG>
void grouped_mvau(hls::stream<ap_uint<CFG::SIMD * CFG::IN_BITS> >& in,
                  hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
                  FA_MVAU_WEIGHTS(CFG, grouped_mvau_dims<CFG>::TILES),
                  const ap_int<CFG::ACC_BITS> bias[CFG::PE][grouped_mvau_dims<CFG>::NF],
                  const mult_t m[CFG::PE][grouped_mvau_dims<CFG>::NF],
                  const shift_t shift[CFG::PE][grouped_mvau_dims<CFG>::NF], unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = weights complete dim = 1
#pragma HLS ARRAY_PARTITION variable = bias complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    typedef grouped_mvau_dims<CFG> D;
    typedef ap_uint<CFG::SIMD * CFG::IN_BITS> in_t;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static_assert(CFG::C % CFG::G == 0 && CFG::MH % CFG::G == 0, "G must divide the input and output channels");
    static_assert(D::MG % CFG::PE == 0, "PE must divide the output channels of one group");
    static_assert(D::CG % CFG::SIMD == 0, "SIMD must divide the input channels of one group");
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::grouped_mvau_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    in_t buf[2][D::SF_ALL];  // bank `bank` fills with window v while the other holds window v-1
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 1
#pragma HLS DEPENDENCE variable = buf inter false
    acc_t acc[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete

    const unsigned n = CFG::N_VECTORS * reps;
    const unsigned total = (n + 1) * D::TILES;
    unsigned v = 0, bank = 0, tile = 0, nf = 0, sf = 0, g = 0, nfg = 0, t = 0, j = 0;
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        if (v < n && tile < D::SF_ALL) buf[bank][tile] = in.read();
        if (v > 0) {  // window v-1, fold nf (group g), word j of tap t of that group
            const in_t x = buf[bank ^ 1][t * D::CW + g * D::CGW + j];
            mvau_step<CFG, D::TILES, D::NF>(x, weights, bias, m, shift, tile, nf, sf == 0, sf == D::SFG - 1, acc, out);
        }
        // Advance (t, j) within the fold, (g, nfg) per fold, (v, bank) per window.
        if (++j == D::CGW) {
            j = 0;
            ++t;
        }
        if (++sf == D::SFG) {
            sf = t = j = 0;
            ++nf;
            if (++nfg == D::NFG) {
                nfg = 0;
                ++g;
            }
        }
        if (++tile == D::TILES) {
            tile = nf = g = 0;
            ++v;
            bank ^= 1;
        }
    }
}

}  // namespace fa

#endif  // FA_GROUPED_MVAU_H
