// Testbench for fpga_accel/types.h: lanes written with set_lane read back with get_lane (signed and
// unsigned), match the packing of the testbench helpers (lane 0 in the low bits), splat fills every
// lane, and qint knows its range.
#include "fpga_accel/types.h"
#include "tb_common.h"

template <int LANES, int BITS>
void run_lanes(Checker& chk) {
    for (int signed_ = 0; signed_ < 2; signed_++) {
        vec x = rand_vec(LANES, qmin(BITS, signed_), qmax(BITS, signed_)), got;
        ap_uint<LANES * BITS> w = 0;
        for (int l = 0; l < LANES; l++) fa::set_lane<BITS>(w, l, x[l]);
        for (int l = 0; l < LANES; l++)
            got.push_back(signed_ ? (int64_t)fa::get_lane<BITS, true>(w, l) : (int64_t)fa::get_lane<BITS, false>(w, l));
        chk.same("lanes " + std::to_string(LANES) + "x" + std::to_string(BITS), got, x);
        // The same word as the independent packer builds it.
        hls::stream<ap_uint<LANES * BITS> > s("s");
        push_words<LANES, BITS>(s, x);
        chk.ok("lane order " + std::to_string(LANES) + "x" + std::to_string(BITS), s.read() == w);
    }
    const int v = (int)qmin(BITS, true);
    ap_uint<LANES * BITS> s = fa::splat<LANES, BITS>(v);
    bool all = true;
    for (int l = 0; l < LANES; l++) all = all && (int)fa::get_lane<BITS, true>(s, l) == v;
    chk.ok("splat " + std::to_string(LANES) + "x" + std::to_string(BITS), all);
    chk.ok("qint bounds", fa::qint<BITS, true>::min == qmin(BITS, true) && fa::qint<BITS, true>::max == qmax(BITS, true) &&
                              fa::qint<BITS, false>::max == qmax(BITS, false));
}

int main() {
    Checker chk;
    run_lanes<1, 2>(chk);
    run_lanes<3, 5>(chk);
    run_lanes<4, 8>(chk);
    run_lanes<2, 16>(chk);
    run_lanes<7, 3>(chk);
    run_lanes<16, 8>(chk);
    return chk.summary("tb_types");
}
