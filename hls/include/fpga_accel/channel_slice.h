// fpga-accel HLS library: a contiguous range of channels out of an NHWC stream (Slice on the channel
// axis; a channel Split is a fork into one slice per part, e.g. ShuffleNetV2's channel split).
//
// channel_slice : per pixel the C/LANES words of the input; word w (channels w*LANES .. w*LANES+LANES-1)
//                 goes out when it lies in [START, START + LEN), else it is dropped. LANES divides C,
//                 START and LEN, so every word is kept or dropped whole: no lane moves.
//                 Out: N_PIXELS*LEN/LANES words. Cycles/image (II=1) = N_PIXELS*C/LANES.
//                 Config: N_PIXELS, C, START, LEN, LANES, BITS.
#ifndef FA_CHANNEL_SLICE_H
#define FA_CHANNEL_SLICE_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void channel_slice(hls::stream<ap_uint<CFG::LANES * CFG::BITS> >& in,
                   hls::stream<ap_uint<CFG::LANES * CFG::BITS> >& out, unsigned reps = 1) {
    static const unsigned CF = CFG::C / CFG::LANES, FIRST = CFG::START / CFG::LANES,
                          END = (CFG::START + CFG::LEN) / CFG::LANES;
    static_assert(CFG::C % CFG::LANES == 0 && CFG::START % CFG::LANES == 0 && CFG::LEN % CFG::LANES == 0,
                  "LANES must divide C, START and LEN");
    static_assert(CFG::LEN > 0 && CFG::START + CFG::LEN <= CFG::C, "the range must lie inside the channels");
    unsigned w = 0;  // word within the current pixel
    for (unsigned i = 0; i < CFG::N_PIXELS * CF * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::LANES * CFG::BITS> x = in.read();
        if (w >= FIRST && w < END) out.write(x);
        if (++w == CF) w = 0;
    }
}

}  // namespace fa

#endif  // FA_CHANNEL_SLICE_H
