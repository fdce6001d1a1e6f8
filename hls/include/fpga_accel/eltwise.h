// fpga-accel HLS library: elementwise PEs -- residual Add, lookup-table activation, channel Concat.
// Constants follow quant/rescale.py and quant/lut.py.
//
// add      : two streams of N_WORDS words of LANES elements each (same tensor shape and folding);
//            y = requantize((a - A_ZP)*A_M + (b - B_ZP)*B_M, 1, SHIFT, OUT_ZP, OUT_LO, OUT_HI), i.e.
//            each input rescaled by its own multiplier with one shared shift and a single rounding.
//            Cycles/image (II=1) = N_WORDS.
//            Config: N_WORDS, LANES, A_BITS, A_SIGNED, A_ZP, A_M, B_BITS, B_SIGNED, B_ZP, B_M, SHIFT,
//            OUT_BITS, OUT_ZP, OUT_LO, OUT_HI.
// lut      : y = table[q - qmin(IN)] per element, N_WORDS words of LANES elements per image; the
//            2^IN_BITS-entry table is copied into one ROM per lane first, so all lanes look up in
//            the same cycle. Cycles/call = 2^IN_BITS + N_WORDS*reps.
//            Config: N_WORDS, LANES, IN_BITS, IN_SIGNED, OUT_BITS.
// concat   : channel concatenation of NHWC tensors (the last axis): per pixel the A_C/LANES words of
//            input a then the B_C/LANES words of input b, each element requantised to the output
//            scale: requantize((q - ZP)*M, 1, SHIFT, OUT_ZP, OUT_LO, OUT_HI) with the input's
//            constants. Cycles/image (II=1) = N_PIXELS*(A_C + B_C)/LANES. More inputs: chain
//            concats; the intermediate takes the output's parameters so the later step is the identity.
//            Config: N_PIXELS, LANES, A_C, A_BITS, A_SIGNED, A_ZP, A_M, A_SHIFT, B_C, B_BITS, B_SIGNED,
//            B_ZP, B_M, B_SHIFT, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI.
#ifndef FA_ELTWISE_H
#define FA_ELTWISE_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void add(hls::stream<ap_uint<CFG::LANES * CFG::A_BITS> >& in_a, hls::stream<ap_uint<CFG::LANES * CFG::B_BITS> >& in_b,
         hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out, unsigned reps = 1) {
    static const int W = (CFG::A_BITS > CFG::B_BITS ? CFG::A_BITS : CFG::B_BITS) + MULT_BITS + 3;
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
            ap_int<W> acc = ap_int<W>(ca) * CFG::A_M;
            acc += ap_int<W>(cb) * CFG::B_M;
            set_lane<CFG::OUT_BITS>(y, l, requantize<W>(acc, 1, CFG::SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI));
        }
        out.write(y);
    }
}

template <class CFG>
void lut(hls::stream<ap_uint<CFG::LANES * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out,
         const ap_uint<CFG::OUT_BITS> table[1 << CFG::IN_BITS], unsigned reps = 1) {
    static const int N = 1 << CFG::IN_BITS;
    ap_uint<CFG::OUT_BITS> rom[CFG::LANES][N];
#pragma HLS ARRAY_PARTITION variable = rom complete dim = 1
    for (int e = 0; e < N; e++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
            rom[l][e] = table[e];
        }
    }
    for (unsigned i = 0; i < CFG::N_WORDS * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::LANES * CFG::IN_BITS> x = in.read();
        ap_uint<CFG::LANES * CFG::OUT_BITS> y = 0;
        for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
            // q - qmin: the raw bits of an unsigned lane; a signed lane with its sign bit flipped.
            ap_uint<CFG::IN_BITS> idx = x >> (l * CFG::IN_BITS);
            if (CFG::IN_SIGNED) idx[CFG::IN_BITS - 1] = !idx[CFG::IN_BITS - 1];
            y.range(l * CFG::OUT_BITS + CFG::OUT_BITS - 1, l * CFG::OUT_BITS) = rom[l][idx];
        }
        out.write(y);
    }
}

// One input of a concat: requantise every lane of a word to the output's scale.
template <int LANES, int BITS, bool SIGNED, int OUT_BITS>
ap_uint<LANES * OUT_BITS> rescale_word(const ap_uint<LANES * BITS>& x, int zp, int m, int shift, int out_zp, int lo,
                                       int hi) {
#pragma HLS INLINE
    static const int W = BITS + MULT_BITS + 2;
    ap_uint<LANES * OUT_BITS> y = 0;
    for (unsigned l = 0; l < LANES; l++) {
#pragma HLS UNROLL
        ap_int<BITS + 1> c = get_lane<BITS, SIGNED>(x, l);
        c -= zp;
        set_lane<OUT_BITS>(y, l, requantize<W>(ap_int<W>(c) * m, 1, shift, out_zp, lo, hi));
    }
    return y;
}

template <class CFG>
void concat(hls::stream<ap_uint<CFG::LANES * CFG::A_BITS> >& in_a, hls::stream<ap_uint<CFG::LANES * CFG::B_BITS> >& in_b,
            hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out, unsigned reps = 1) {
    static const unsigned AW = CFG::A_C / CFG::LANES, BW = CFG::B_C / CFG::LANES;
    static_assert(CFG::A_C % CFG::LANES == 0 && CFG::B_C % CFG::LANES == 0, "LANES must divide both channel counts");
    unsigned j = 0;  // word within the current pixel: first AW from a, then BW from b
    for (unsigned i = 0; i < CFG::N_PIXELS * (AW + BW) * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        ap_uint<CFG::LANES * CFG::OUT_BITS> y;
        if (j < AW) {
            y = rescale_word<CFG::LANES, CFG::A_BITS, CFG::A_SIGNED, CFG::OUT_BITS>(
                in_a.read(), CFG::A_ZP, CFG::A_M, CFG::A_SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI);
        } else {
            y = rescale_word<CFG::LANES, CFG::B_BITS, CFG::B_SIGNED, CFG::OUT_BITS>(
                in_b.read(), CFG::B_ZP, CFG::B_M, CFG::B_SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI);
        }
        out.write(y);
        if (++j == AW + BW) j = 0;
    }
}

}  // namespace fa

#endif  // FA_ELTWISE_H
