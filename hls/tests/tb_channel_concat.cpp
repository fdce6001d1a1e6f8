// Testbench for fpga_accel/channel_concat.h: channel concatenation with lanes that do not divide the
// inputs' channels, against direct int64 requantisation of the unfolded tensors; the iteration count
// against the header's rule run here on one pixel's word widths.
#include "fpga_accel/channel_concat.h"
#include "tb_common.h"

template <int NP, int L, int AC, int AL, int AB, bool AS, int AZP, int AM, int ASH, int BC, int BL, int BB, bool BS,
          int BZP, int BM, int BSH, int OB, int OZP, int LO, int HI>
struct CatCfg {
    static const unsigned N_PIXELS = NP, LANES = L, A_C = AC, A_LANES = AL, B_C = BC, B_LANES = BL;
    static const int A_BITS = AB, A_ZP = AZP, A_M = AM, A_SHIFT = ASH, B_BITS = BB, B_ZP = BZP, B_M = BM, B_SHIFT = BSH;
    static const int OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI;
    static const bool A_SIGNED = AS, B_SIGNED = BS;
};

// One pixel: read a word while fewer than L elements wait, write L of them when that many wait.
static unsigned long long pixel_iterations(unsigned L, unsigned ac, unsigned al, unsigned bc, unsigned bl) {
    std::vector<unsigned> words(ac / al, al);
    words.insert(words.end(), bc / bl, bl);
    unsigned long long iters = 0;
    unsigned held = 0;
    size_t k = 0;
    while (k < words.size() || held) {
        iters++;
        if (held < L && k < words.size()) held += words[k++];
        if (held >= L) held -= L;
    }
    return iters;
}

template <class C>
void run_cat(Checker& chk, const char* name, int reps = 3) {
    hls::stream<ap_uint<C::A_LANES * C::A_BITS> > a("a");
    hls::stream<ap_uint<C::B_LANES * C::B_BITS> > b("b");
    hls::stream<ap_uint<C::LANES * C::OUT_BITS> > out("out");
    vec xa = rand_vec((size_t)C::N_PIXELS * C::A_C * reps, qmin(C::A_BITS, C::A_SIGNED), qmax(C::A_BITS, C::A_SIGNED));
    vec xb = rand_vec((size_t)C::N_PIXELS * C::B_C * reps, qmin(C::B_BITS, C::B_SIGNED), qmax(C::B_BITS, C::B_SIGNED));
    push_words<C::A_LANES, C::A_BITS>(a, xa);
    push_words<C::B_LANES, C::B_BITS>(b, xb);
    vec want;
    for (size_t p = 0; p < (size_t)C::N_PIXELS * reps; p++) {
        for (unsigned c = 0; c < C::A_C; c++)
            want.push_back(ref_requant((xa[p * C::A_C + c] - C::A_ZP) * C::A_M, 1, C::A_SHIFT, C::OUT_ZP, C::OUT_LO, C::OUT_HI));
        for (unsigned c = 0; c < C::B_C; c++)
            want.push_back(ref_requant((xb[p * C::B_C + c] - C::B_ZP) * C::B_M, 1, C::B_SHIFT, C::OUT_ZP, C::OUT_LO, C::OUT_HI));
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::channel_concat<C>(a, b, out, reps);
    chk.cycles(std::string(name) + " cycles = N_PIXELS*ITERS", c0,
               C::N_PIXELS * reps * pixel_iterations(C::LANES, C::A_C, C::A_LANES, C::B_C, C::B_LANES));
    chk.ok(std::string(name) + " consumes all input", a.empty() && b.empty());
    chk.same(name, pop_words<C::LANES, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    //            NP L  AC AL AB AS    AZP AM     ASH BC BL BB BS     BZP  BM     BSH OB OZP LO    HI
    run_cat<CatCfg<5, 8, 3, 3, 8, true, -4, 98304, 17, 5, 5, 8, false, 128, 70000, 18, 8, 3, -128, 127> >(
        chk, "3 + 5 channels at 8 lanes");
    run_cat<CatCfg<4, 4, 6, 6, 4, false, 8, 100000, 19, 10, 5, 12, true, -100, 80000, 25, 6, 32, 0, 63> >(
        chk, "6 + 10 at 4 lanes, uint4 | int12 -> uint6");
    run_cat<CatCfg<3, 4, 58, 29, 8, true, 0, 65536, 16, 58, 29, 8, true, 0, 65536, 16, 8, 0, -128, 127> >(
        chk, "58 + 58 at 4 lanes, 29-element words, identity");
    run_cat<CatCfg<6, 3, 1, 1, 2, true, 0, 65536, 16, 5, 1, 16, true, 7, 50000, 20, 16, 0, -32768, 32767> >(
        chk, "1 + 5 at 3 lanes, narrow input words");
    run_cat<CatCfg<2, 2, 7, 7, 8, false, 3, 70000, 17, 1, 1, 8, false, 0, 60000, 16, 8, 5, 0, 255> >(
        chk, "7 + 1 at 2 lanes");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_channel_concat", run_all);
}
