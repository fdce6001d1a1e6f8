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

// FA_HEX_WORD (wide parameter words) equals the ap_uint string constructor synthesis sees, and the
// simulation's word <-> lane helpers round-trip.
template <int W>
void run_hex(Checker& chk) {
    for (int t = 0; t < 4; t++) {
        std::string hex;
        const int digits = t == 0 ? 1 : (t == 1 ? (W + 3) / 4 : (int)rand_int(1, (W + 3) / 4));
        for (int i = 0; i < digits; i++) {
            // no leading zero (as the generator writes them; "0b..." would read as a base prefix)
            int d = (int)rand_int(i == 0 && digits > 1 ? 1 : 0, 15);
            if (i == 0 && digits == (W + 3) / 4 && W % 4) d = 1 + d % ((1 << (W % 4)) - 1 > 0 ? (1 << (W % 4)) - 1 : 1);
            hex += "0123456789abcdef"[d];
        }
        chk.ok("hex word " + std::to_string(W) + " " + hex, FA_HEX_WORD(ap_uint<W>, hex.c_str()) == ap_uint<W>(hex.c_str(), 16));
    }
    vec x = rand_vec(W / 6, qmin(6, true), qmax(6, true)), got(W / 6);
    const ap_uint<W / 6 * 6> w = fa::sim::pack_word<W / 6, 6>(x.data());
    fa::sim::unpack_word<W / 6, 6, true>(w, got.data());
    chk.same("sim lanes " + std::to_string(W), got, x);
}

static void run_all(Checker& chk) {
    run_hex<65>(chk);
    run_hex<128>(chk);
    run_hex<200>(chk);
    run_lanes<1, 2>(chk);
    run_lanes<3, 5>(chk);
    run_lanes<4, 8>(chk);
    run_lanes<2, 16>(chk);
    run_lanes<7, 3>(chk);
    run_lanes<16, 8>(chk);
}

int main() {
    Checker chk;
    return chk.both_paths("tb_types", run_all);
}
