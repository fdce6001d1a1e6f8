// fpga-accel HLS library: ShuffleNet's channel shuffle of an NHWC stream, as a stream permutation
// (the Reshape(N, G, C/G, H, W) -> Transpose(0, 2, 1, 3, 4) -> Reshape(N, C, H, W) PyTorch exports).
//
// channel_shuffle : output channel o of a pixel is input channel (o % G)*(C/G) + o/G. A pixel's C/LANES
//                   words are written into one half of a two-pixel register buffer while the previous
//                   pixel's words are read out of the other half, so one word goes in and one out per
//                   cycle, one pixel behind. Every lane reads any channel: a C-input mux per lane.
//                   Cycles/call (II=1) = (N_PIXELS*reps + 1)*CF, CF = C/LANES: N_PIXELS*CF per image
//                   and one pixel to drain.
//                   Config: N_PIXELS, C, G, LANES, BITS.
#ifndef FA_CHANNEL_SHUFFLE_H
#define FA_CHANNEL_SHUFFLE_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void channel_shuffle(hls::stream<ap_uint<CFG::LANES * CFG::BITS> >& in,
                     hls::stream<ap_uint<CFG::LANES * CFG::BITS> >& out, unsigned reps = 1) {
    static const unsigned C = CFG::C, CF = C / CFG::LANES, K = C / CFG::G;
    static_assert(C % CFG::LANES == 0, "LANES must divide C");
    static_assert(C % CFG::G == 0, "G must divide C");
    ap_uint<CFG::BITS> buf[2][C];
#pragma HLS ARRAY_PARTITION variable = buf complete dim = 0
    const unsigned n_in = CFG::N_PIXELS * CF * reps;
    unsigned w = 0, half = 0;  // word within the pixel, buffer half being written
    for (unsigned i = 0; i < n_in + CF; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        if (i >= CF) {  // the previous pixel, from the other half
            ap_uint<CFG::LANES * CFG::BITS> y = 0;
            for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
                const unsigned o = w * CFG::LANES + l;
                y.range(l * CFG::BITS + CFG::BITS - 1, l * CFG::BITS) = buf[half ^ 1][(o % CFG::G) * K + o / CFG::G];
            }
            out.write(y);
        }
        if (i < n_in) {
            const ap_uint<CFG::LANES * CFG::BITS> x = in.read();
            for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
                buf[half][w * CFG::LANES + l] = x.range(l * CFG::BITS + CFG::BITS - 1, l * CFG::BITS);
            }
        }
        if (++w == CF) w = 0, half ^= 1;
    }
}

}  // namespace fa

#endif  // FA_CHANNEL_SHUFFLE_H
