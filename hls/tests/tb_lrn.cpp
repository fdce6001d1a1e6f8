// Testbench for fpga_accel/lrn.h: the integer LRN of N_PIXELS x C against direct int64 computation
// (window sums over the clipped channel range, rounded table index, the contract's requantise),
// over widths, signedness, window sizes, lanes and images, with random tables.
#include "fpga_accel/lrn.h"
#include "tb_common.h"

template <int NP, int C_, int L, int IB, bool IS, int IZP, int SZ, int SB, int IDX, int TB, int M_, int SH, int OB,
          int OZP, int LO, int HI>
struct LrnCfg {
    static const unsigned N_PIXELS = NP, C = C_, LANES = L;
    static const int IN_BITS = IB, IN_ZP = IZP, SIZE = SZ, S_BITS = SB, IDX_SHIFT = IDX, TABLE_BITS = TB, T_BITS = 16;
    static const int M = M_, SHIFT = SH, OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI;
    static const bool IN_SIGNED = IS;
};

template <class C>
void run_lrn(Checker& chk, const char* name, int reps = 3) {
    static const int N = 1 << C::TABLE_BITS, BEFORE = (C::SIZE - 1) / 2;
    hls::stream<ap_uint<C::LANES * C::IN_BITS> > in("in");
    hls::stream<ap_uint<C::LANES * C::OUT_BITS> > out("out");
    ap_uint<16> table[N];
    vec t = rand_vec(N, 0, 65535);
    for (int i = 0; i < N; i++) table[i] = (unsigned)t[i];
    const size_t n = (size_t)C::N_PIXELS * C::C * reps;
    vec x = rand_vec(n, qmin(C::IN_BITS, C::IN_SIGNED), qmax(C::IN_BITS, C::IN_SIGNED)), want;
    for (size_t p = 0; p < (size_t)C::N_PIXELS * reps; p++)
        for (int c = 0; c < (int)C::C; c++) {
            int64_t s = 0;
            for (int d = c - BEFORE; d < c - BEFORE + C::SIZE; d++)
                if (d >= 0 && d < (int)C::C) {
                    const int64_t v = x[p * C::C + d] - C::IN_ZP;
                    s += v * v;
                }
            int64_t idx = (s + ((int64_t(1) << C::IDX_SHIFT) >> 1)) >> C::IDX_SHIFT;
            if (idx > N - 1) idx = N - 1;
            want.push_back(ref_requant((x[p * C::C + c] - C::IN_ZP) * t[idx], C::M, C::SHIFT, C::OUT_ZP, C::OUT_LO,
                                       C::OUT_HI));
        }
    push_words<C::LANES, C::IN_BITS>(in, x);
    const unsigned long long c0 = fa::sim::cycles();
    fa::lrn<C>(in, out, table, reps);
    chk.cycles(std::string(name) + " cycles = 2^TABLE_BITS + (N_PIXELS*reps+1)*CF", c0,
               (unsigned long long)N + (C::N_PIXELS * reps + 1) * (C::C / C::LANES));
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<C::LANES, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    // S_BITS covers SIZE * max|q - IN_ZP|^2; IDX_SHIFT = S_BITS - TABLE_BITS (or 0)
    run_lrn<LrnCfg<5, 8, 2, 8, false, 0, 5, 19, 9, 10, 90000, 30, 8, 0, 0, 255> >(chk, "uint8, size 5, 2 lanes");
    run_lrn<LrnCfg<4, 6, 3, 8, true, -3, 3, 18, 8, 10, 70000, 28, 8, 2, -128, 127> >(chk, "int8, size 3, 3 lanes");
    run_lrn<LrnCfg<3, 5, 1, 4, true, 0, 2, 7, 0, 10, 100000, 22, 4, 0, -8, 7> >(chk, "int4, even size, 1 lane");
    run_lrn<LrnCfg<2, 12, 4, 16, true, 5, 5, 33, 23, 10, 80000, 36, 16, -7, -32768, 32767> >(
        chk, "int16, size 5, 4 lanes");
    run_lrn<LrnCfg<3, 4, 4, 6, false, 31, 7, 13, 5, 8, 65536, 24, 6, 0, 0, 63> >(chk, "window wider than C");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_lrn", run_all);
}
