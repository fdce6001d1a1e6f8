// fpga-accel HLS library: channel-broadcast product of two computed tensors (squeeze-excitation).
// The "Product" layer form of ops/family/arithmetic.py with one side of shape (1,1,1,C): per image, the
// map's element of channel c is multiplied by the image's gate value of channel c:
//            y = requantize((a - A_ZP) * (g[c] - B_ZP), M, SHIFT, OUT_ZP, OUT_LO, OUT_HI)
// (the same rounding and clamp as the equal-shape `mul` of scale.h).
//
// channel_mul : per image, first CF = C/LANES gate words (in_b: channels cf*LANES .. cf*LANES+LANES-1),
//               held centred in a [LANES][CF] buffer; then N_PIXELS*CF map words (in_a, NHWC, channels
//               fastest), each lane l of word cf multiplied by gate[l][cf]. Out: N_PIXELS*CF words.
//               PE lanes along C, like the elementwise PEs. The map is read only after its image's gate:
//               its input FIFO holds what the map's producer writes meanwhile (input_slack).
//               Cycles/image (II=1) = CF + N_PIXELS*CF = (N_PIXELS + 1)*CF.
//               Config: N_PIXELS, C, LANES, A_BITS, A_SIGNED, A_ZP (map), B_BITS, B_SIGNED, B_ZP (gate),
//               M, SHIFT, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI.
#ifndef FA_CHANNEL_MUL_H
#define FA_CHANNEL_MUL_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void channel_mul(hls::stream<ap_uint<CFG::LANES * CFG::A_BITS> >& in_a,
                 hls::stream<ap_uint<CFG::LANES * CFG::B_BITS> >& in_b,
                 hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out, unsigned reps = 1) {
    static const unsigned CF = CFG::C / CFG::LANES;
    static const int W = CFG::A_BITS + CFG::B_BITS + 2;
    static_assert(CFG::C % CFG::LANES == 0, "LANES must divide C");
    ap_int<CFG::B_BITS + 1> gate[CFG::LANES][CF];
#pragma HLS ARRAY_PARTITION variable = gate complete dim = 1
    for (unsigned r = 0; r < reps; r++) {
        for (unsigned cf = 0; cf < CF; cf++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            const ap_uint<CFG::LANES * CFG::B_BITS> b = in_b.read();
            for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
                ap_int<CFG::B_BITS + 1> cb = get_lane<CFG::B_BITS, CFG::B_SIGNED>(b, l);
                cb -= CFG::B_ZP;
                gate[l][cf] = cb;
            }
        }
        unsigned cf = 0;
        for (unsigned i = 0; i < CFG::N_PIXELS * CF; i++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            const ap_uint<CFG::LANES * CFG::A_BITS> a = in_a.read();
            ap_uint<CFG::LANES * CFG::OUT_BITS> y = 0;
            for (unsigned l = 0; l < CFG::LANES; l++) {
#pragma HLS UNROLL
                ap_int<CFG::A_BITS + 1> ca = get_lane<CFG::A_BITS, CFG::A_SIGNED>(a, l);
                ca -= CFG::A_ZP;
                const ap_int<W> acc = ap_int<W>(ca) * gate[l][cf];
                set_lane<CFG::OUT_BITS>(y, l,
                                        requantize<W>(acc, CFG::M, CFG::SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI));
            }
            out.write(y);
            if (++cf == CF) cf = 0;
        }
    }
}

}  // namespace fa

#endif  // FA_CHANNEL_MUL_H
