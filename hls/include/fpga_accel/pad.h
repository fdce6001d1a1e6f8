// fpga-accel HLS library: constant padding of an image (a standalone Pad layer).
//
// In : IH*IW*CF words of LANES channels (NHWC, CF = C/LANES), one image after another.
// Out: OH*OW*CF words with OH = PAD_T + IH + PAD_B, OW = PAD_L + IW + PAD_R: the input pixels in
//      place, every other position PAD_VALUE in every lane (the input's zero point: the integer of
//      0.0, so the padded value means real 0). Rows and columns only; channels are not padded.
// Cycles/image (II=1) = OH*OW*CF.
// Config: struct with static const members IH, IW, C, LANES, BITS, PAD_T, PAD_L, PAD_B, PAD_R, PAD_VALUE.
#ifndef FA_PAD_H
#define FA_PAD_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void pad(hls::stream<ap_uint<CFG::LANES * CFG::BITS> >& in, hls::stream<ap_uint<CFG::LANES * CFG::BITS> >& out,
         unsigned reps = 1) {
    static const unsigned CF = CFG::C / CFG::LANES;
    static const unsigned OH = CFG::PAD_T + CFG::IH + CFG::PAD_B, OW = CFG::PAD_L + CFG::IW + CFG::PAD_R;
    static_assert(CFG::C % CFG::LANES == 0, "LANES must divide C");
    const ap_uint<CFG::LANES * CFG::BITS> fill = splat<CFG::LANES, CFG::BITS>(CFG::PAD_VALUE);
    unsigned cf = 0, ox = 0, oy = 0;
    for (unsigned i = 0; i < OH * OW * CF * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const bool inside = oy >= CFG::PAD_T && oy < CFG::PAD_T + CFG::IH && ox >= CFG::PAD_L &&
                            ox < CFG::PAD_L + CFG::IW;
        out.write(inside ? in.read() : fill);
        if (++cf == CF) { cf = 0; if (++ox == OW) { ox = 0; if (++oy == OH) oy = 0; } }
    }
}

}  // namespace fa

#endif  // FA_PAD_H
