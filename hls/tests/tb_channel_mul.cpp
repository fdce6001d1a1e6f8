// Testbench for fpga_accel/channel_mul.h: the channel-broadcast product of a map (N_PIXELS x C) and a
// per-image gate (C), against direct int64 computation, over widths 2-16, signedness, lanes and images.
#include "fpga_accel/channel_mul.h"
#include "tb_common.h"

template <int NP, int C_, int L, int AB, bool AS, int AZP, int BB, bool BS, int BZP, int M_, int SH, int OB, int OZP,
          int LO, int HI>
struct ChannelMulCfg {
    static const unsigned N_PIXELS = NP, C = C_, LANES = L;
    static const int A_BITS = AB, A_ZP = AZP, B_BITS = BB, B_ZP = BZP, M = M_, SHIFT = SH;
    static const int OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI;
    static const bool A_SIGNED = AS, B_SIGNED = BS;
};

template <class C>
void run_channel_mul(Checker& chk, const char* name, int reps = 3) {
    static const unsigned CF = C::C / C::LANES;
    hls::stream<ap_uint<C::LANES * C::A_BITS> > a("a");
    hls::stream<ap_uint<C::LANES * C::B_BITS> > b("b");
    hls::stream<ap_uint<C::LANES * C::OUT_BITS> > out("out");
    const size_t n = (size_t)C::N_PIXELS * C::C * reps;
    vec xa = rand_vec(n, qmin(C::A_BITS, C::A_SIGNED), qmax(C::A_BITS, C::A_SIGNED));
    vec xb = rand_vec((size_t)C::C * reps, qmin(C::B_BITS, C::B_SIGNED), qmax(C::B_BITS, C::B_SIGNED)), want;
    // the unfolded problem: y[r][p][c] = requantize((a[r][p][c] - A_ZP) * (g[r][c] - B_ZP))
    for (int r = 0; r < reps; r++)
        for (unsigned p = 0; p < C::N_PIXELS; p++)
            for (unsigned c = 0; c < C::C; c++) {
                const int64_t va = xa[((size_t)r * C::N_PIXELS + p) * C::C + c], vb = xb[(size_t)r * C::C + c];
                want.push_back(ref_requant((va - C::A_ZP) * (vb - C::B_ZP), C::M, C::SHIFT, C::OUT_ZP, C::OUT_LO,
                                           C::OUT_HI));
            }
    push_words<C::LANES, C::A_BITS>(a, xa);
    push_words<C::LANES, C::B_BITS>(b, xb);
    const unsigned long long c0 = fa::sim::cycles();
    fa::channel_mul<C>(a, b, out, reps);
    chk.cycles(std::string(name) + " cycles = (N_PIXELS+1)*CF", c0, (unsigned long long)(C::N_PIXELS + 1) * CF * reps);
    chk.ok(std::string(name) + " consumes all input", a.empty() && b.empty());
    chk.same(name, pop_words<C::LANES, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    run_channel_mul<ChannelMulCfg<9, 6, 2, 8, true, 4, 8, false, 120, 70000, 22, 8, -2, -128, 127> >(
        chk, "int8 map x uint8 gate, 2 lanes");
    run_channel_mul<ChannelMulCfg<5, 3, 1, 16, true, -300, 12, true, 9, 100000, 40, 16, 11, -32768, 32767> >(
        chk, "int16 map x int12 gate");
    run_channel_mul<ChannelMulCfg<4, 8, 4, 3, false, 2, 5, true, -1, 131071, 9, 4, 3, 0, 15> >(
        chk, "uint3 map x int5 gate, 4 lanes");
    run_channel_mul<ChannelMulCfg<7, 4, 4, 2, true, 0, 2, false, 1, 98304, 17, 2, 0, -2, 1> >(
        chk, "int2 x uint2 -> int2, all channels in one word");
    run_channel_mul<ChannelMulCfg<1, 5, 5, 6, false, 31, 16, false, 40000, 76543, 30, 10, 300, 0, 1023> >(
        chk, "uint6 map x uint16 gate, one pixel");
    run_channel_mul<ChannelMulCfg<6, 8, 8, 16, false, 1000, 16, true, -5, 123456, 45, 16, -3, -30000, 30000> >(
        chk, "uint16 x int16, 8 lanes, clamped");
    run_channel_mul<ChannelMulCfg<3, 1, 1, 4, true, -1, 3, true, 0, 65536, 12, 12, 0, -2048, 2047> >(
        chk, "int4 x int3 -> int12, one channel");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_channel_mul", run_all);
}
