// fpga-accel HLS library: channel concatenation at any channel offset -- the `concat` of eltwise.h
// for inputs whose channel counts LANES does not divide (e.g. 3 + 5 channels out at 8 lanes).
//
// channel_concat : per pixel the A_C/A_LANES words of input a, then the B_C/B_LANES words of input b
//                  (each input at lanes dividing its own channels), every element requantised to the
//                  output scale as in `concat`: requantize((q - ZP)*M, 1, SHIFT, OUT_ZP, OUT_LO, OUT_HI).
//                  The elements queue in a register buffer of LANES + max(A_LANES, B_LANES) - 1; each
//                  iteration reads one input word while fewer than LANES elements wait, then writes one
//                  output word of LANES elements when that many wait (a width converter over the joined
//                  channels). LANES divides A_C + B_C, so the queue is empty at every pixel's end and
//                  each pixel takes the same number of iterations, ITERS (computed by pe/channel_concat.py
//                  by running this rule); with A_LANES, B_LANES >= LANES it is C/LANES (+1 when a word
//                  is read at the start of a pixel with nothing to write).
//                  Cycles/image = N_PIXELS*ITERS.
//                  Config: N_PIXELS, LANES, A_C, A_LANES, A_BITS, A_SIGNED, A_ZP, A_M, A_SHIFT, B_C,
//                  B_LANES, B_BITS, B_SIGNED, B_ZP, B_M, B_SHIFT, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI.
#ifndef FA_CHANNEL_CONCAT_H
#define FA_CHANNEL_CONCAT_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/eltwise.h"
#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void channel_concat(hls::stream<ap_uint<CFG::A_LANES * CFG::A_BITS> >& in_a,
                    hls::stream<ap_uint<CFG::B_LANES * CFG::B_BITS> >& in_b,
                    hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out, unsigned reps = 1) {
    static const unsigned L = CFG::LANES, AW = CFG::A_C / CFG::A_LANES, BW = CFG::B_C / CFG::B_LANES;
    static const unsigned WIDEST = CFG::A_LANES > CFG::B_LANES ? CFG::A_LANES : CFG::B_LANES;
    static const unsigned CAP = L + WIDEST - 1;
    static_assert(CFG::A_C % CFG::A_LANES == 0 && CFG::B_C % CFG::B_LANES == 0, "input lanes must divide their channels");
    static_assert((CFG::A_C + CFG::B_C) % L == 0, "LANES must divide the output channels");
    ap_uint<CFG::OUT_BITS> queue[CAP];
#pragma HLS ARRAY_PARTITION variable = queue complete dim = 1
    const unsigned n_in = CFG::N_PIXELS * (AW + BW) * reps, n_out = CFG::N_PIXELS * ((CFG::A_C + CFG::B_C) / L) * reps;
    unsigned held = 0, j = 0, n_read = 0, n_written = 0;  // j: input word within the pixel
    while (n_written < n_out) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        if (held < L && n_read < n_in) {
            if (j < AW) {
                const ap_uint<CFG::A_LANES * CFG::OUT_BITS> y = rescale_word<CFG::A_LANES, CFG::A_BITS, CFG::A_SIGNED, CFG::OUT_BITS>(
                    in_a.read(), CFG::A_ZP, CFG::A_M, CFG::A_SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI);
                for (unsigned l = 0; l < CFG::A_LANES; l++) {
#pragma HLS UNROLL
                    queue[held + l] = y.range(l * CFG::OUT_BITS + CFG::OUT_BITS - 1, l * CFG::OUT_BITS);
                }
                held += CFG::A_LANES;
            } else {
                const ap_uint<CFG::B_LANES * CFG::OUT_BITS> y = rescale_word<CFG::B_LANES, CFG::B_BITS, CFG::B_SIGNED, CFG::OUT_BITS>(
                    in_b.read(), CFG::B_ZP, CFG::B_M, CFG::B_SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI);
                for (unsigned l = 0; l < CFG::B_LANES; l++) {
#pragma HLS UNROLL
                    queue[held + l] = y.range(l * CFG::OUT_BITS + CFG::OUT_BITS - 1, l * CFG::OUT_BITS);
                }
                held += CFG::B_LANES;
            }
            n_read++;
            if (++j == AW + BW) j = 0;
        }
        if (held >= L) {
            ap_uint<L * CFG::OUT_BITS> w = 0;
            for (unsigned l = 0; l < L; l++) {
#pragma HLS UNROLL
                w.range(l * CFG::OUT_BITS + CFG::OUT_BITS - 1, l * CFG::OUT_BITS) = queue[l];
            }
            out.write(w);
            for (unsigned k = 0; k + L < CAP; k++) {
#pragma HLS UNROLL
                queue[k] = queue[k + L];
            }
            held -= L;
            n_written++;
        }
    }
}

}  // namespace fa

#endif  // FA_CHANNEL_CONCAT_H
