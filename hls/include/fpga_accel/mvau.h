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
// Cycles/image (II=1) = N_VECTORS * NF * SF = N_VECTORS * (MH/PE) * (MW/SIMD).
//
// Parameters (arrays, in on-chip ROM; first dimension partitioned so all PEs read in parallel):
//   weights[PE][NF*SF] : ap_uint<SIMD*W_BITS>, lane s of weights[p][nf*SF + sf] = W[nf*PE + p][sf*SIMD + s]
//   bias[PE][NF]       : ap_int<ACC_BITS>, bias[p][nf] for channel nf*PE + p (zero point folded in);
//                        likewise m[PE][NF] and shift[PE][NF], the channel's requantisation constants.
// Config: struct with static const members MW, MH, SIMD, PE, N_VECTORS, IN_BITS, IN_SIGNED, W_BITS,
// ACC_BITS, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI. ACC_BITS comes from the contract
// (quant/arith.py:accumulator_bits) so no partial sum overflows.
#ifndef FA_MVAU_H
#define FA_MVAU_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"

#ifndef __SYNTHESIS__
#include <vector>
#endif

namespace fa {

template <class CFG> struct mvau_dims {
    static const unsigned NF = CFG::MH / CFG::PE;
    static const unsigned SF = CFG::MW / CFG::SIMD;
    static const unsigned TILES = NF * SF;
};

#ifndef __SYNTHESIS__
namespace sim {
// mvau() for C simulation: the same words in and out and the same FA_CYCLE count, computed as one
// dense dot product per output channel over lanes unpacked once (weights once per call).
template <class CFG>
void mvau_fast(hls::stream<ap_uint<CFG::SIMD * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
               const ap_uint<CFG::SIMD * CFG::W_BITS> weights[CFG::PE][mvau_dims<CFG>::TILES],
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
            unpack_word<SIMD, CFG::W_BITS, true>(weights[p][tile], &w[(size_t)r * MW + c]);
        }
        for (unsigned nf = 0; nf < D::NF; nf++) {
            b[nf * PE + p] = (U)bias[p][nf].to_int64();
            mr[nf * PE + p] = m[p][nf].to_uint64();
            sr[nf * PE + p] = shift[p][nf].to_uint();
        }
    }
    int y[PE];
    // FA_CYCLE advances as the loop's: reads in iterations (0, sf), the write of fold nf in (nf, SF - 1).
    for (unsigned v = 0; v < CFG::N_VECTORS * reps; v++) {
        for (unsigned sf = 0; sf < D::SF; sf++) {
            ++cycles();
            unpack_word<SIMD, CFG::IN_BITS, CFG::IN_SIGNED>(in.read(), &x[sf * SIMD]);
        }
        for (unsigned nf = 0; nf < D::NF; nf++) {
            if (nf > 0) cycles() += D::SF;
            for (unsigned p = 0; p < PE; p++) {
                const unsigned r = nf * PE + p;
                const U* wr = &w[(size_t)r * MW];
                U a = b[r];
                for (unsigned c = 0; c < MW; c++) a += wr[c] * x[c];
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
void mvau(hls::stream<ap_uint<CFG::SIMD * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::PE * CFG::OUT_BITS> >& out,
          const ap_uint<CFG::SIMD * CFG::W_BITS> weights[CFG::PE][mvau_dims<CFG>::TILES],
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
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {
        sim::mvau_fast<CFG>(in, out, weights, bias, m, shift, reps);
        return;
    }
#endif

    in_t inbuf[D::SF];  // the current vector, replayed for folds nf > 0
    acc_t acc[CFG::PE];
#pragma HLS ARRAY_PARTITION variable = acc complete

    unsigned nf = 0, sf = 0, tile = 0;
    const unsigned total = CFG::N_VECTORS * D::TILES * reps;
    for (unsigned i = 0; i < total; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        in_t x;
        if (nf == 0) {
            x = in.read();
            inbuf[sf] = x;
        } else {
            x = inbuf[sf];
        }
        for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
            acc_t a = sf == 0 ? bias[p][nf] : acc[p];
            const ap_uint<CFG::SIMD * CFG::W_BITS> w = weights[p][tile];
            for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
                a += get_lane<CFG::W_BITS, true>(w, s) * get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(x, s);
            }
            acc[p] = a;
        }
        if (sf == D::SF - 1) {
            ap_uint<CFG::PE * CFG::OUT_BITS> y = 0;
            for (unsigned p = 0; p < CFG::PE; p++) {
#pragma HLS UNROLL
                set_lane<CFG::OUT_BITS>(y, p, requantize<CFG::ACC_BITS>(acc[p], m[p][nf], shift[p][nf],
                                                                        CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI));
            }
            out.write(y);
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
