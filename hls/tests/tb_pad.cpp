// Testbench for fpga_accel/pad.h: constant padding of NHWC images against a direct index computation,
// for several pads, lane counts and signed / unsigned element types.
#include "fpga_accel/pad.h"
#include "tb_common.h"

template <int IH_, int IW_, int C_, int L, int B, int PT, int PL, int PB, int PR, int PV>
struct PadCfg {
    static const int IH = IH_, IW = IW_, C = C_, LANES = L, BITS = B, PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR;
    static const int PAD_VALUE = PV;
};

template <class CFG, bool SGN>
void run(Checker& chk, const char* name, int reps = 2) {
    const int OH = CFG::PAD_T + CFG::IH + CFG::PAD_B, OW = CFG::PAD_L + CFG::IW + CFG::PAD_R;
    hls::stream<ap_uint<CFG::LANES * CFG::BITS> > in("in"), out("out");
    vec x = rand_vec((size_t)CFG::IH * CFG::IW * CFG::C * reps, qmin(CFG::BITS, SGN), qmax(CFG::BITS, SGN)), want;
    for (int r = 0; r < reps; r++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < CFG::C; c++) {
                    const int iy = oy - CFG::PAD_T, ix = ox - CFG::PAD_L;
                    const bool inside = iy >= 0 && iy < CFG::IH && ix >= 0 && ix < CFG::IW;
                    want.push_back(inside ? x[(((size_t)r * CFG::IH + iy) * CFG::IW + ix) * CFG::C + c] : CFG::PAD_VALUE);
                }
    push_words<CFG::LANES, CFG::BITS>(in, x);
    const unsigned long long c0 = fa::sim::cycles();
    fa::pad<CFG>(in, out, reps);
    chk.cycles(std::string(name) + " cycles = OH*OW*CF", c0, (unsigned long long)OH * OW * (CFG::C / CFG::LANES) * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<CFG::LANES, CFG::BITS, SGN>(out), want);
}

static void run_all(Checker& chk) {
    run<PadCfg<4, 5, 6, 3, 8, 1, 2, 0, 1, -3>, true>(chk, "int8 3 lanes, asymmetric pads");
    run<PadCfg<3, 3, 2, 1, 4, 2, 2, 2, 2, 7>, false>(chk, "uint4 pads 2");
    run<PadCfg<1, 7, 4, 4, 16, 0, 3, 0, 0, -1000>, true>(chk, "int16 one row (1D), left pad");
    run<PadCfg<2, 2, 1, 1, 2, 0, 0, 1, 0, 1>, true>(chk, "int2 bottom pad only");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_pad", run_all);
}
