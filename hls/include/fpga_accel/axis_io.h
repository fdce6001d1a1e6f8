// fpga-accel HLS library: AXI4-Stream adapters for DMA-driven designs (Zynq PS + AXI DMA).
//
// Bus format: one AXI-Stream beat per internal word; TDATA = ap_axiu<BUS_BITS,0,0,0>::data with
// BUS_BITS = LANES*BITS rounded up to whole bytes. The word sits in the low LANES*BITS bits (lane 0
// lowest, as in types.h), the padding bits are 0 on output and ignored on input. TKEEP/TSTRB are all
// ones; TUSER/TID/TDEST are absent. An image is WORDS beats in NHWC order (e.g. H*W*C/LANES).
//
// axis_to_stream : WORDS*reps beats -> internal words. Input TLAST is not used (the count is fixed;
//                  the DMA's TLAST ends its transfer, not ours).         cycles/image = WORDS
// stream_to_axis : internal words -> beats; TLAST on the last beat of the batch, or of every image
//                  when last_per_image (one DMA receive per image).       cycles/image = WORDS
//
// A Zynq top level built from these (what the code generator emits) looks like
//     void top(hls::stream<in_bus>& in, hls::stream<out_bus>& out, unsigned reps) {
//     #pragma HLS INTERFACE mode=axis port=in
//     #pragma HLS INTERFACE mode=axis port=out
//     #pragma HLS INTERFACE mode=s_axilite port=reps
//     #pragma HLS INTERFACE mode=s_axilite port=return
//     #pragma HLS DATAFLOW
//         hls::stream<ap_uint<...> > s0, s1;   // one stream per layer boundary
//         fa::axis_to_stream<...>(in, s0, WORDS_IN, reps);
//         ...PEs...
//         fa::stream_to_axis<...>(s1, out, WORDS_OUT, reps, false);
//     }
#ifndef FA_AXIS_IO_H
#define FA_AXIS_IO_H

#include <ap_axi_sdata.h>
#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

namespace fa {

template <int LANES, int BITS> struct axis_bus {
    static const int BITS_ON_BUS = (LANES * BITS + 7) / 8 * 8;
    typedef ap_axiu<BITS_ON_BUS, 0, 0, 0> type;
};

template <int LANES, int BITS>
void axis_to_stream(hls::stream<typename axis_bus<LANES, BITS>::type>& in, hls::stream<ap_uint<LANES * BITS> >& out,
                    unsigned words, unsigned reps = 1) {
    for (unsigned i = 0; i < words * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const typename axis_bus<LANES, BITS>::type beat = in.read();
        out.write(beat.data.range(LANES * BITS - 1, 0));
    }
}

template <int LANES, int BITS>
void stream_to_axis(hls::stream<ap_uint<LANES * BITS> >& in, hls::stream<typename axis_bus<LANES, BITS>::type>& out,
                    unsigned words, unsigned reps = 1, bool last_per_image = false) {
    unsigned w = 0, r = 0;
    for (unsigned i = 0; i < words * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        typename axis_bus<LANES, BITS>::type beat;
        beat.data = in.read();  // zero-extends into the padding bits
        beat.keep = -1;
        beat.strb = -1;  // user/id/dest have width 0: Vitis HLS disables them, so leave them alone
        const bool image_end = w == words - 1;
        beat.last = image_end && (last_per_image || r == reps - 1);
        out.write(beat);
        if (image_end) { w = 0; r++; } else { w++; }
    }
}

}  // namespace fa

#endif  // FA_AXIS_IO_H
