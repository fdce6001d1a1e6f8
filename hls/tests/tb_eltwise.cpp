// Testbench for fpga_accel/eltwise.h: residual Add, LUT activation and channel Concat against direct
// int64 computation of quant/rescale.py's and quant/lut.py's formulas, over bit widths, signedness,
// lane counts, zero points and clamp bounds.
#include "fpga_accel/eltwise.h"
#include "tb_common.h"

#include <cmath>

// Shared-shift multipliers for inputs with scale ratios r_i (rescale.py: shift from the largest ratio).
inline void shared_shift(const std::vector<double>& r, vec& M, int64_t& shift) {
    double big = 0;
    for (double x : r) big = std::max(big, x);
    int e;
    std::frexp(big, &e);
    shift = 17 - e;
    if (std::llround(std::ldexp(big, (int)shift)) == (1 << 17)) shift--;
    M.clear();
    for (double x : r) M.push_back(std::llround(std::ldexp(x, (int)shift)));
}

template <int NW, int L, int AB, bool AS, int AZP, int AM, int BB, bool BS, int BZP, int BM, int SH, int OB, int OZP,
          int LO, int HI>
struct AddCfg {
    static const unsigned N_WORDS = NW, LANES = L;
    static const int A_BITS = AB, A_ZP = AZP, A_M = AM, B_BITS = BB, B_ZP = BZP, B_M = BM, SHIFT = SH;
    static const int OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI;
    static const bool A_SIGNED = AS, B_SIGNED = BS;
};

template <class C>
void run_add(Checker& chk, const char* name, int reps = 3) {
    hls::stream<ap_uint<C::LANES * C::A_BITS> > a("a");
    hls::stream<ap_uint<C::LANES * C::B_BITS> > b("b");
    hls::stream<ap_uint<C::LANES * C::OUT_BITS> > out("out");
    vec want;
    const size_t n = (size_t)C::N_WORDS * C::LANES * reps;
    vec xa = rand_vec(n, qmin(C::A_BITS, C::A_SIGNED), qmax(C::A_BITS, C::A_SIGNED));
    vec xb = rand_vec(n, qmin(C::B_BITS, C::B_SIGNED), qmax(C::B_BITS, C::B_SIGNED));
    push_words<C::LANES, C::A_BITS>(a, xa);
    push_words<C::LANES, C::B_BITS>(b, xb);
    for (size_t i = 0; i < n; i++) {
        const int64_t acc = (xa[i] - C::A_ZP) * C::A_M + (xb[i] - C::B_ZP) * C::B_M;
        want.push_back(ref_requant(acc, 1, C::SHIFT, C::OUT_ZP, C::OUT_LO, C::OUT_HI));
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::add<C>(a, b, out, reps);
    chk.cycles(std::string(name) + " cycles = N_WORDS", c0, (unsigned long long)C::N_WORDS * reps);
    chk.ok(std::string(name) + " consumes all input", a.empty() && b.empty());
    chk.same(name, pop_words<C::LANES, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

template <int NW, int L, int IB, bool IS, int OB>
struct LutCfg {
    static const unsigned N_WORDS = NW, LANES = L;
    static const int IN_BITS = IB, OUT_BITS = OB;
    static const bool IN_SIGNED = IS;
};

template <class C, bool OS>
void run_lut(Checker& chk, const char* name, int reps = 2) {
    const int n_entries = 1 << C::IN_BITS;
    vec table = rand_vec(n_entries, qmin(C::OUT_BITS, OS), qmax(C::OUT_BITS, OS));
    static ap_uint<C::OUT_BITS> t[1 << C::IN_BITS];
    for (int e = 0; e < n_entries; e++) t[e] = table[e];  // negative values wrap to their bit pattern
    hls::stream<ap_uint<C::LANES * C::IN_BITS> > in("in");
    hls::stream<ap_uint<C::LANES * C::OUT_BITS> > out("out");
    const int64_t lo = qmin(C::IN_BITS, C::IN_SIGNED), hi = qmax(C::IN_BITS, C::IN_SIGNED);
    vec x = rand_vec((size_t)C::N_WORDS * C::LANES * reps, lo, hi), want;
    x[0] = lo;  // both ends of the table
    x[1] = hi;
    push_words<C::LANES, C::IN_BITS>(in, x);
    for (int64_t q : x) want.push_back(table[q - lo]);
    const unsigned long long c0 = fa::sim::cycles();
    fa::lut<C>(in, out, t, reps);
    chk.cycles(std::string(name) + " cycles = 2^IN_BITS + N_WORDS*reps", c0,
               (1ull << C::IN_BITS) + (unsigned long long)C::N_WORDS * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<C::LANES, C::OUT_BITS, OS>(out), want);
}

template <int NP, int L, int AC, int AB, bool AS, int AZP, int AM, int ASH, int BC, int BB, bool BS, int BZP, int BM,
          int BSH, int OB, int OZP, int LO, int HI>
struct CatCfg {
    static const unsigned N_PIXELS = NP, LANES = L, A_C = AC, B_C = BC;
    static const int A_BITS = AB, A_ZP = AZP, A_M = AM, A_SHIFT = ASH, B_BITS = BB, B_ZP = BZP, B_M = BM, B_SHIFT = BSH;
    static const int OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI;
    static const bool A_SIGNED = AS, B_SIGNED = BS;
};

template <class C>
void run_concat(Checker& chk, const char* name, bool identity = false, int reps = 2) {
    hls::stream<ap_uint<C::LANES * C::A_BITS> > a("a");
    hls::stream<ap_uint<C::LANES * C::B_BITS> > b("b");
    hls::stream<ap_uint<C::LANES * C::OUT_BITS> > out("out");
    vec xa = rand_vec((size_t)C::N_PIXELS * C::A_C * reps, qmin(C::A_BITS, C::A_SIGNED), qmax(C::A_BITS, C::A_SIGNED));
    vec xb = rand_vec((size_t)C::N_PIXELS * C::B_C * reps, qmin(C::B_BITS, C::B_SIGNED), qmax(C::B_BITS, C::B_SIGNED));
    push_words<C::LANES, C::A_BITS>(a, xa);
    push_words<C::LANES, C::B_BITS>(b, xb);
    vec want;
    for (size_t p = 0; p < (size_t)C::N_PIXELS * reps; p++) {
        for (unsigned c = 0; c < C::A_C; c++) {
            const int64_t q = xa[p * C::A_C + c];
            want.push_back(identity ? q : ref_requant((q - C::A_ZP) * C::A_M, 1, C::A_SHIFT, C::OUT_ZP, C::OUT_LO, C::OUT_HI));
        }
        for (unsigned c = 0; c < C::B_C; c++) {
            const int64_t q = xb[p * C::B_C + c];
            want.push_back(identity ? q : ref_requant((q - C::B_ZP) * C::B_M, 1, C::B_SHIFT, C::OUT_ZP, C::OUT_LO, C::OUT_HI));
        }
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::concat<C>(a, b, out, reps);
    chk.cycles(std::string(name) + " cycles = N_PIXELS*(A_C+B_C)/LANES", c0,
               (unsigned long long)C::N_PIXELS * (C::A_C + C::B_C) / C::LANES * reps);
    chk.ok(std::string(name) + " consumes all input", a.empty() && b.empty());
    chk.same(name, pop_words<C::LANES, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    {   // the constants used below come from scale ratios, as quant/rescale.py derives them
        vec M;
        int64_t sh;
        shared_shift({0.8, 0.55}, M, sh);
        chk.ok("shared shift normalises the largest multiplier", M[0] >= (1 << 16) && M[0] < (1 << 17) && sh == 17);
    }
    //             NW L  AB AS   AZP  AM     BB BS    BZP BM     SH OB OZP LO    HI
    run_add<AddCfg<20, 4, 8, true, -3, 104858, 8, true, 5, 72090, 17, 8, 2, -128, 127> >(chk, "add int8+int8");
    run_add<AddCfg<15, 3, 8, false, 128, 65536, 8, true, -1, 131071, 17, 8, 0, 0, 127> >(chk, "add uint8+int8 relu");
    run_add<AddCfg<9, 2, 4, true, 0, 90000, 6, true, 3, 30000, 19, 5, 0, 0, 31> >(chk, "add int4+int6 -> uint5");
    run_add<AddCfg<8, 1, 16, true, 7, 100000, 16, false, 30000, 120000, 18, 16, -5, -32768, 32767> >(chk, "add int16+uint16");
    run_add<AddCfg<12, 8, 2, true, 0, 70000, 2, true, 1, 131000, 17, 2, 0, -2, 1> >(chk, "add int2+int2 lanes8");
    //             NW L  IB IS    OB
    run_lut<LutCfg<30, 4, 8, true, 8>, false>(chk, "lut int8 -> uint8 (sigmoid-like)");
    run_lut<LutCfg<21, 3, 4, false, 8>, true>(chk, "lut uint4 -> int8");
    run_lut<LutCfg<16, 5, 2, true, 2>, true>(chk, "lut int2 -> int2");
    run_lut<LutCfg<40, 2, 12, true, 16>, true>(chk, "lut int12 -> int16");
    run_lut<LutCfg<10, 1, 16, false, 7>, false>(chk, "lut uint16 -> uint7");
    //                NP  L  AC AB AS   AZP AM     ASH BC BB BS     BZP  BM     BSH OB OZP LO    HI
    run_concat<CatCfg<12, 2, 4, 8, true, -4, 98304, 17, 6, 8, false, 128, 70000, 18, 8, 3, -128, 127> >(chk, "concat int8|uint8");
    run_concat<CatCfg<9, 3, 3, 8, true, 7, 65536, 16, 3, 8, true, 7, 65536, 16, 8, 7, -128, 127> >(
        chk, "concat equal params is the identity", true);
    run_concat<CatCfg<5, 1, 2, 4, false, 8, 100000, 19, 3, 12, true, -100, 80000, 25, 6, 32, 0, 63> >(chk, "concat uint4|int12 -> uint6");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_eltwise", run_all);
}
