// fpga-accel HLS library: multiplicative elementwise PEs -- scale by a constant, product of two tensors.
// Constants follow quant/arith.py via ops/family/arithmetic.py (the "Scale" and "Product" layer forms).
//
// scale : Mul / Div by a scalar or per-channel constant. Per element of channel c:
//            y = requantize(SIGN[c] * (q - IN_ZP), M[c], SHIFT[c], OUT_ZP, OUT_LO, OUT_HI)
//         The contract's multipliers are positive, so a negative constant negates the centred input
//         (SIGN = -1); a zero (or negligible) constant has SIGN = 0, M = 0, SHIFT = 1 and gives OUT_ZP.
//         In: N_PIXELS*CF words of LANES channels (NHWC, CF = C/LANES); out: the same words.
//         sign/m/shift are [LANES][CF] for channel cf*LANES + l. Cycles/image (II=1) = N_PIXELS*CF.
//         Config: N_PIXELS, C, LANES, IN_BITS, IN_SIGNED, IN_ZP, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI.
// mul   : product of two tensors of one shape: y = requantize((a - A_ZP)*(b - B_ZP), M, SHIFT, OUT_ZP, ...).
//         N_WORDS words of LANES elements per image from each input. Cycles/image (II=1) = N_WORDS.
//         Config: N_WORDS, LANES, A_BITS, A_SIGNED, A_ZP, B_BITS, B_SIGNED, B_ZP, M, SHIFT, OUT_BITS,
//         OUT_ZP, OUT_LO, OUT_HI.
#ifndef FA_SCALE_H
#define FA_SCALE_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"

namespace fa {

typedef ap_int<2> sign_t;

template <class CFG>
void scale(hls::stream<ap_uint<CFG::LANES * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out,
           const sign_t sign[CFG::LANES][CFG::C / CFG::LANES], const mult_t m[CFG::LANES][CFG::C / CFG::LANES],
           const shift_t shift[CFG::LANES][CFG::C / CFG::LANES], unsigned reps = 1) {
#pragma HLS ARRAY_PARTITION variable = sign complete dim = 1
#pragma HLS ARRAY_PARTITION variable = m complete dim = 1
#pragma HLS ARRAY_PARTITION variable = shift complete dim = 1
    static const unsigned CF = CFG::C / CFG::LANES;
    static const int W = CFG::IN_BITS + 2;  // sign * (q - zp): an (IN_BITS+1)-bit value, negated
    static_assert(CFG::C % CFG::LANES == 0, "LANES must divide C");
    unsigned cf = 0;
    for (unsigned i = 0; i < CFG::N_PIXELS * CF * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::LANES * CFG::IN_BITS> x = in.read();
        ap_uint<CFG::LANES * CFG::OUT_BITS> y = 0;
        for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
            ap_int<W> c = get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(x, l);
            c -= CFG::IN_ZP;
            const ap_int<W> acc = sign[l][cf] * c;
            set_lane<CFG::OUT_BITS>(y, l, requantize<W>(acc, m[l][cf], shift[l][cf], CFG::OUT_ZP, CFG::OUT_LO,
                                                        CFG::OUT_HI));
        }
        out.write(y);
        if (++cf == CF) cf = 0;
    }
}

template <class CFG>
void mul(hls::stream<ap_uint<CFG::LANES * CFG::A_BITS> >& in_a, hls::stream<ap_uint<CFG::LANES * CFG::B_BITS> >& in_b,
         hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out, unsigned reps = 1) {
    static const int W = CFG::A_BITS + CFG::B_BITS + 2;
    for (unsigned i = 0; i < CFG::N_WORDS * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::LANES * CFG::A_BITS> a = in_a.read();
        const ap_uint<CFG::LANES * CFG::B_BITS> b = in_b.read();
        ap_uint<CFG::LANES * CFG::OUT_BITS> y = 0;
        for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
            ap_int<CFG::A_BITS + 1> ca = get_lane<CFG::A_BITS, CFG::A_SIGNED>(a, l);
            ap_int<CFG::B_BITS + 1> cb = get_lane<CFG::B_BITS, CFG::B_SIGNED>(b, l);
            ca -= CFG::A_ZP;
            cb -= CFG::B_ZP;
            const ap_int<W> acc = ap_int<W>(ca) * cb;
            set_lane<CFG::OUT_BITS>(y, l, requantize<W>(acc, CFG::M, CFG::SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI));
        }
        out.write(y);
    }
}

}  // namespace fa

#endif  // FA_SCALE_H
