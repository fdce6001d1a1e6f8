// Testbench for fpga_accel/axis_io.h: AXI-Stream beats carry the packed words in their low bits with
// zero padding, all-ones TKEEP/TSTRB and TLAST where documented; plus a Zynq-style top
// (AXI-Stream in -> sliding window -> MVAU -> AXI-Stream out) against a direct int64 convolution.
#include "fpga_accel/axis_io.h"
#include "fpga_accel/mvau.h"
#include "fpga_accel/sliding_window.h"
#include "tb_common.h"

template <int LANES, int BITS, bool SGN>
void run_roundtrip(Checker& chk, unsigned words, unsigned reps, bool last_per_image) {
    typedef typename fa::axis_bus<LANES, BITS>::type beat_t;
    const std::string name = "axis " + std::to_string(LANES) + "x" + std::to_string(BITS) +
                             (last_per_image ? " tlast/image" : " tlast/batch");
    hls::stream<ap_uint<LANES * BITS> > s("s"), back("back");
    hls::stream<beat_t> bus("bus");
    vec x = rand_vec((size_t)words * LANES * reps, qmin(BITS, SGN), qmax(BITS, SGN));
    push_words<LANES, BITS>(s, x);
    unsigned long long c0 = fa::sim::cycles();
    fa::stream_to_axis<LANES, BITS>(s, bus, words, reps, last_per_image);
    chk.cycles(name + " stream_to_axis cycles = WORDS", c0, (unsigned long long)words * reps);
    chk.ok(name + " bus width is whole bytes", fa::axis_bus<LANES, BITS>::BITS_ON_BUS % 8 == 0 &&
                                                   fa::axis_bus<LANES, BITS>::BITS_ON_BUS - LANES * BITS < 8);
    // Inspect every beat, then feed it back through axis_to_stream.
    hls::stream<beat_t> bus2("bus2");
    bool keep_ok = true, pad_ok = true, last_ok = true;
    for (unsigned i = 0; i < words * reps; i++) {
        beat_t b = bus.read();
        keep_ok = keep_ok && b.keep == ap_uint<(fa::axis_bus<LANES, BITS>::BITS_ON_BUS + 7) / 8>(-1) && b.strb == b.keep;
        if (fa::axis_bus<LANES, BITS>::BITS_ON_BUS > LANES * BITS)
            pad_ok = pad_ok && (b.data >> (LANES * BITS)) == 0;
        const bool image_end = (i + 1) % words == 0;
        const bool want_last = image_end && (last_per_image || i + 1 == words * reps);
        last_ok = last_ok && (bool)b.last == want_last;
        bus2.write(b);
    }
    chk.ok(name + " exact beat count", bus.empty());
    chk.ok(name + " keep/strb all ones", keep_ok);
    chk.ok(name + " padding bits zero", pad_ok);
    chk.ok(name + " tlast positions", last_ok);
    c0 = fa::sim::cycles();
    fa::axis_to_stream<LANES, BITS>(bus2, back, words, reps);
    chk.cycles(name + " axis_to_stream cycles = WORDS", c0, (unsigned long long)words * reps);
    chk.ok(name + " consumes all beats", bus2.empty());
    chk.same(name + " data round trip", pop_words<LANES, BITS, SGN>(back), x);
}

// One 3x3 convolution between AXI-Stream ports, as the code generator writes a Zynq top.
struct Sw {
    static const int IH = 6, IW = 5, C = 3, KH = 3, KW = 3, SH = 1, SW = 1, DH = 1, DW = 1;
    static const int PAD_T = 1, PAD_L = 1, PAD_B = 1, PAD_R = 1, SIMD = 3, BITS = 8, PAD_VALUE = 128;
    static const bool DEPTHWISE = false;
};
struct Cv {
    static const unsigned MW = 27, MH = 4, SIMD = 3, PE = 2, N_VECTORS = 30;
    static const int IN_BITS = 8, W_BITS = 8, ACC_BITS = 36, OUT_BITS = 8, OUT_ZP = 0, OUT_LO = 0, OUT_HI = 255;
    static const bool IN_SIGNED = false;
    static const int PACK = 2, PACK_SHIFT = 16;  // PE 0 and 1 share a DSP (mvau.h)
    static const bool MUL_FABRIC = false;
};
typedef fa::axis_bus<3, 8>::type in_beat;
typedef fa::axis_bus<2, 8>::type out_beat;
static ap_uint<Cv::SIMD * Cv::W_BITS> cv_w[Cv::PE][fa::mvau_dims<Cv>::TILES];
static ap_int<Cv::ACC_BITS> cv_b[Cv::PE][fa::mvau_dims<Cv>::NF];
static fa::mult_t cv_m[Cv::PE][fa::mvau_dims<Cv>::NF];
static fa::shift_t cv_s[Cv::PE][fa::mvau_dims<Cv>::NF];

void zynq_top(hls::stream<in_beat>& in, hls::stream<out_beat>& out, unsigned reps) {
#pragma HLS INTERFACE mode = axis port = in
#pragma HLS INTERFACE mode = axis port = out
#pragma HLS INTERFACE mode = s_axilite port = reps
#pragma HLS INTERFACE mode = s_axilite port = return
#pragma HLS DATAFLOW
    hls::stream<ap_uint<24> > x("x"), win("win");
    hls::stream<ap_uint<16> > y("y");
    fa::axis_to_stream<3, 8>(in, x, Sw::IH * Sw::IW, reps);
    fa::sliding_window<Sw>(x, win, reps);
    fa::mvau<Cv>(win, y, cv_w, cv_b, cv_m, cv_s, reps);
    fa::stream_to_axis<2, 8>(y, out, Cv::N_VECTORS * Cv::MH / Cv::PE, reps, true);
}

void run_top(Checker& chk, unsigned reps) {
    std::vector<vec> W(Cv::MH);
    vec b = rand_vec(Cv::MH, -2000, 2000), m(Cv::MH), sh(Cv::MH);
    for (unsigned r = 0; r < Cv::MH; r++) {
        W[r] = rand_vec(Cv::MW, -127, 127);
        m[r] = rand_int(1 << 16, (1 << 17) - 1);
        sh[r] = rand_int(24, 26);
        int64_t sum = 0;
        for (int64_t w : W[r]) sum += w;
        const unsigned p = r % Cv::PE, nf = r / Cv::PE;
        cv_b[p][nf] = b[r] - Sw::PAD_VALUE * sum;  // zero point folded into the bias
        cv_m[p][nf] = m[r];
        cv_s[p][nf] = sh[r];
        for (unsigned c = 0; c < Cv::MW; c++)
            fa::set_lane<Cv::W_BITS>(cv_w[p][nf * (Cv::MW / Cv::SIMD) + c / Cv::SIMD], c % Cv::SIMD, W[r][c]);
    }
    hls::stream<in_beat> in("in");
    hls::stream<out_beat> out("out");
    vec want;
    for (unsigned n = 0; n < reps; n++) {
        vec x = rand_vec(Sw::IH * Sw::IW * Sw::C, 0, 255);
        for (int i = 0; i < Sw::IH * Sw::IW; i++) {
            in_beat beat;
            beat.data = 0;
            for (int c = 0; c < 3; c++) beat.data |= ap_uint<24>(x[i * 3 + c]) << (8 * c);
            beat.last = i == Sw::IH * Sw::IW - 1;
            in.write(beat);
        }
        for (int oy = 0; oy < Sw::IH; oy++)
            for (int ox = 0; ox < Sw::IW; ox++)
                for (unsigned r = 0; r < Cv::MH; r++) {
                    int64_t acc = b[r];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const int iy = oy - 1 + ky, ix = ox - 1 + kx;
                            if (iy < 0 || iy >= Sw::IH || ix < 0 || ix >= Sw::IW) continue;
                            for (int c = 0; c < 3; c++)
                                acc += W[r][(ky * 3 + kx) * 3 + c] * (x[(iy * Sw::IW + ix) * 3 + c] - Sw::PAD_VALUE);
                        }
                    want.push_back(ref_requant(acc, m[r], (int)sh[r], Cv::OUT_ZP, Cv::OUT_LO, Cv::OUT_HI));
                }
    }
    zynq_top(in, out, reps);
    vec got;
    unsigned lasts = 0;
    while (!out.empty()) {
        out_beat beat = out.read();
        lasts += beat.last;
        got.push_back((int64_t)(beat.data & 0xff));
        got.push_back((int64_t)(beat.data >> 8));
    }
    chk.ok("zynq top consumes all beats", in.empty());
    chk.ok("zynq top: one TLAST per image", lasts == reps);
    chk.same("zynq top axis -> sliding window -> mvau -> axis, batch " + std::to_string(reps), got, want);
}

static void run_all(Checker& chk) {
    run_roundtrip<3, 8, false>(chk, 10, 3, false);
    run_roundtrip<3, 8, true>(chk, 10, 3, true);
    run_roundtrip<3, 5, true>(chk, 7, 2, false);  // 15 bits on a 16-bit bus
    run_roundtrip<1, 2, false>(chk, 9, 2, true);  // 2 bits on an 8-bit bus
    run_roundtrip<4, 16, true>(chk, 5, 1, false);
    run_roundtrip<8, 6, false>(chk, 4, 4, true);
    run_top(chk, 1);
    run_top(chk, 3);
}

int main() {
    Checker chk;
    return chk.both_paths("tb_axis_io", run_all);
}
