// Testbench for fpga_accel/scale.h: per-channel constant scale (signs -1/0/+1, zero multipliers) and
// the product of two tensors, against direct int64 computation, over widths, signedness and lanes.
#include "fpga_accel/scale.h"
#include "tb_common.h"

template <int NP, int C_, int L, int IB, bool IS, int IZP, int OB, int OZP, int LO, int HI>
struct ScaleCfg {
    static const unsigned N_PIXELS = NP, C = C_, LANES = L;
    static const int IN_BITS = IB, IN_ZP = IZP, OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI;
    static const bool IN_SIGNED = IS;
};

template <class CFG>
void run_scale(Checker& chk, const char* name, int reps = 2) {
    static const unsigned CF = CFG::C / CFG::LANES;
    static fa::sign_t sign[CFG::LANES][CF];
    static fa::mult_t m[CFG::LANES][CF];
    static fa::shift_t sh[CFG::LANES][CF];
    vec s(CFG::C), M(CFG::C), S(CFG::C);
    for (unsigned c = 0; c < CFG::C; c++) {
        s[c] = rand_int(-1, 1);
        M[c] = s[c] == 0 ? 0 : rand_int(1 << 16, (1 << 17) - 1);
        S[c] = s[c] == 0 ? 1 : rand_int(14, 20);
        sign[c % CFG::LANES][c / CFG::LANES] = s[c];
        m[c % CFG::LANES][c / CFG::LANES] = M[c];
        sh[c % CFG::LANES][c / CFG::LANES] = S[c];
    }
    hls::stream<ap_uint<CFG::LANES * CFG::IN_BITS> > in("in");
    hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> > out("out");
    const size_t n = (size_t)CFG::N_PIXELS * CFG::C * reps;
    vec x = rand_vec(n, qmin(CFG::IN_BITS, CFG::IN_SIGNED), qmax(CFG::IN_BITS, CFG::IN_SIGNED)), want;
    for (size_t i = 0; i < n; i++) {
        const size_t c = i % CFG::C;
        want.push_back(ref_requant(s[c] * (x[i] - CFG::IN_ZP), M[c], (int)S[c], CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI));
    }
    push_words<CFG::LANES, CFG::IN_BITS>(in, x);
    const unsigned long long c0 = fa::sim::cycles();
    fa::scale<CFG>(in, out, sign, m, sh, reps);
    chk.cycles(std::string(name) + " cycles = N_PIXELS*CF", c0, (unsigned long long)CFG::N_PIXELS * CF * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<CFG::LANES, CFG::OUT_BITS, (CFG::OUT_LO < 0)>(out), want);
}

template <int NW, int L, int AB, bool AS, int AZP, int BB, bool BS, int BZP, int M_, int SH, int OB, int OZP, int LO,
          int HI>
struct MulCfg {
    static const unsigned N_WORDS = NW, LANES = L;
    static const int A_BITS = AB, A_ZP = AZP, B_BITS = BB, B_ZP = BZP, M = M_, SHIFT = SH;
    static const int OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI;
    static const bool A_SIGNED = AS, B_SIGNED = BS;
};

template <class C>
void run_mul(Checker& chk, const char* name, int reps = 3) {
    hls::stream<ap_uint<C::LANES * C::A_BITS> > a("a");
    hls::stream<ap_uint<C::LANES * C::B_BITS> > b("b");
    hls::stream<ap_uint<C::LANES * C::OUT_BITS> > out("out");
    const size_t n = (size_t)C::N_WORDS * C::LANES * reps;
    vec xa = rand_vec(n, qmin(C::A_BITS, C::A_SIGNED), qmax(C::A_BITS, C::A_SIGNED));
    vec xb = rand_vec(n, qmin(C::B_BITS, C::B_SIGNED), qmax(C::B_BITS, C::B_SIGNED)), want;
    for (size_t i = 0; i < n; i++)
        want.push_back(ref_requant((xa[i] - C::A_ZP) * (xb[i] - C::B_ZP), C::M, C::SHIFT, C::OUT_ZP, C::OUT_LO, C::OUT_HI));
    push_words<C::LANES, C::A_BITS>(a, xa);
    push_words<C::LANES, C::B_BITS>(b, xb);
    const unsigned long long c0 = fa::sim::cycles();
    fa::mul<C>(a, b, out, reps);
    chk.cycles(std::string(name) + " cycles = N_WORDS", c0, (unsigned long long)C::N_WORDS * reps);
    chk.ok(std::string(name) + " consumes all input", a.empty() && b.empty());
    chk.same(name, pop_words<C::LANES, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    run_scale<ScaleCfg<7, 6, 3, 8, true, -3, 8, 5, -128, 127> >(chk, "scale int8 -> int8, 3 lanes");
    run_scale<ScaleCfg<5, 4, 1, 4, false, 7, 6, 0, 0, 40> >(chk, "scale uint4 -> uint6 clamped");
    run_scale<ScaleCfg<3, 8, 8, 16, true, 100, 16, -7, -32768, 32767> >(chk, "scale int16, 8 lanes");
    run_scale<ScaleCfg<4, 1, 1, 2, true, 0, 3, 1, -4, 3> >(chk, "scale int2 -> int3, one channel");
    run_mul<MulCfg<9, 2, 8, true, 4, 8, false, 120, 70000, 22, 8, -2, -128, 127> >(chk, "mul int8 x uint8");
    run_mul<MulCfg<5, 1, 16, true, -300, 12, true, 9, 100000, 40, 16, 11, -32768, 32767> >(chk, "mul int16 x int12");
    run_mul<MulCfg<4, 4, 3, false, 2, 5, true, -1, 131071, 9, 4, 3, 0, 15> >(chk, "mul uint3 x int5, 4 lanes");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_scale", run_all);
}
