// Testbench for fpga_accel/pool.h: max / average pooling (after the sliding window) and global
// max / average pooling against direct int64 pooling over the valid window elements, with and
// without counting padding, over kernels, strides, pads, dilations, SIMD folds and bit widths.
#include "fpga_accel/pool.h"
#include "fpga_accel/sliding_window.h"
#include "tb_common.h"

#include <cmath>

template <int IH_, int IW_, int C_, int KH_, int KW_, int SH_, int SW_, int DH_, int DW_, int PT, int PL, int PB,
          int PR, int SIMD_, int BITS_, bool SGN, int IZP, int OB, int OZP, int LO, int HI, bool CIP>
struct PoolCfg {
    static const int IH = IH_, IW = IW_, C = C_, KH = KH_, KW = KW_, SH = SH_, SW = SW_, DH = DH_, DW = DW_;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, SIMD = SIMD_, BITS = BITS_;
    static const bool IN_SIGNED = SGN, DEPTHWISE = true, COUNT_INCLUDE_PAD = CIP;
    static const int IN_ZP = IZP, OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI, ACC_BITS = 26;
    // max pooling pads with the type minimum, average pooling with the zero point
    static const int PAD_VALUE = (OB == 0) ? (SGN ? -(1 << (BITS_ - 1)) : 0) : IZP;
};

// (M, shift) of a real multiplier, normalised into [2^16, 2^17).
inline void multiplier(double mreal, int64_t& M, int64_t& shift) {
    int e;
    std::frexp(mreal, &e);
    shift = 17 - e;
    M = std::llround(std::ldexp(mreal, (int)shift));
    if (M == (1 << 17)) { shift--; M = std::llround(std::ldexp(mreal, (int)shift)); }
}

template <class P>
vec direct_pool(const vec& x, bool is_max, const vec& M, const vec& S) {
    typedef fa::window_dims<P> D;
    vec out;
    for (int oy = 0; oy < D::OH; oy++)
        for (int ox = 0; ox < D::OW; ox++)
            for (int c = 0; c < P::C; c++) {
                int64_t best = INT64_MIN, sum = 0, n = 0;
                for (int ky = 0; ky < P::KH; ky++)
                    for (int kx = 0; kx < P::KW; kx++) {
                        const int iy = oy * P::SH - P::PAD_T + ky * P::DH, ix = ox * P::SW - P::PAD_L + kx * P::DW;
                        if (iy < 0 || iy >= P::IH || ix < 0 || ix >= P::IW) continue;
                        const int64_t v = x[((size_t)iy * P::IW + ix) * P::C + c];
                        best = std::max(best, v);
                        sum += v - P::IN_ZP;
                        n++;
                    }
                if (is_max) {
                    out.push_back(std::min<int64_t>(std::max<int64_t>(best, P::OUT_LO), P::OUT_HI));
                } else {
                    const int d = P::COUNT_INCLUDE_PAD ? P::KH * P::KW : (int)n;
                    out.push_back(ref_requant(sum, M[d], S[d], P::OUT_ZP, P::OUT_LO, P::OUT_HI));
                }
            }
    return out;
}

// OH*OW*CF*KH*KW per image.
template <class P>
unsigned long long pool_cycles() {
    typedef fa::window_dims<P> D;
    return (unsigned long long)D::OH * D::OW * (P::C / P::SIMD) * P::KH * P::KW;
}

template <class P>
void run_max(Checker& chk, const char* name, int reps = 2) {
    hls::stream<ap_uint<P::SIMD * P::BITS> > in("in"), win("win"), out("out");
    vec want;
    for (int r = 0; r < reps; r++) {
        vec x = rand_vec((size_t)P::IH * P::IW * P::C, qmin(P::BITS, P::IN_SIGNED), qmax(P::BITS, P::IN_SIGNED));
        push_words<P::SIMD, P::BITS>(in, x);
        vec w = direct_pool<P>(x, true, vec(), vec());
        want.insert(want.end(), w.begin(), w.end());
    }
    fa::sliding_window<P>(in, win, reps);
    const unsigned long long c0 = fa::sim::cycles();
    fa::max_pool<P>(win, out, reps);
    chk.cycles(std::string(name) + " cycles", c0, pool_cycles<P>() * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty() && win.empty());
    chk.same(name, pop_words<P::SIMD, P::BITS, P::IN_SIGNED>(out), want);
}

template <class P>
void run_avg(Checker& chk, const char* name, int reps = 2) {
    const int K = P::KH * P::KW;
    const double ratio = std::ldexp(1.0, -(P::BITS - P::OUT_BITS)) * (0.6 + 0.8 * rand_int(0, 1000) / 1000.0);
    vec M(K + 1), S(K + 1);
    static fa::mult_t mt[P::KH * P::KW + 1];
    static fa::shift_t st[P::KH * P::KW + 1];
    for (int d = 1; d <= K; d++) {
        multiplier(ratio / d, M[d], S[d]);
        mt[d] = M[d];
        st[d] = S[d];
    }
    hls::stream<ap_uint<P::SIMD * P::BITS> > in("in"), win("win");
    hls::stream<ap_uint<P::SIMD * P::OUT_BITS> > out("out");
    vec want;
    for (int r = 0; r < reps; r++) {
        vec x = rand_vec((size_t)P::IH * P::IW * P::C, qmin(P::BITS, P::IN_SIGNED), qmax(P::BITS, P::IN_SIGNED));
        push_words<P::SIMD, P::BITS>(in, x);
        vec w = direct_pool<P>(x, false, M, S);
        want.insert(want.end(), w.begin(), w.end());
    }
    fa::sliding_window<P>(in, win, reps);
    const unsigned long long c0 = fa::sim::cycles();
    fa::avg_pool<P>(win, out, mt, st, reps);
    chk.cycles(std::string(name) + " cycles", c0, pool_cycles<P>() * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty() && win.empty());
    chk.same(name, pop_words<P::SIMD, P::OUT_BITS, (P::OUT_LO < 0)>(out), want);
}

template <int NP, int C_, int SIMD_, int BITS_, bool SGN, int IZP, int OB, int OZP, int LO, int HI>
struct GCfg {
    static const unsigned N_PIXELS = NP, C = C_, SIMD = SIMD_;
    static const int BITS = BITS_, IN_ZP = IZP, OUT_BITS = OB, OUT_ZP = OZP, OUT_LO = LO, OUT_HI = HI, ACC_BITS = 32;
    static const bool IN_SIGNED = SGN;
};

template <class G>
void run_global(Checker& chk, const char* name, bool is_max, int reps = 2) {
    int64_t M = 0, S = 0;
    multiplier(std::ldexp(1.0, -(G::BITS - (is_max ? G::BITS : G::OUT_BITS))) * 0.9 / G::N_PIXELS, M, S);
    hls::stream<ap_uint<G::SIMD * G::BITS> > in("in"), out_max("out_max");
    hls::stream<ap_uint<G::SIMD * G::OUT_BITS> > out_avg("out_avg");
    vec want;
    for (int r = 0; r < reps; r++) {
        vec x = rand_vec((size_t)G::N_PIXELS * G::C, qmin(G::BITS, G::IN_SIGNED), qmax(G::BITS, G::IN_SIGNED));
        push_words<G::SIMD, G::BITS>(in, x);
        for (unsigned c = 0; c < G::C; c++) {
            int64_t best = INT64_MIN, sum = 0;
            for (unsigned p = 0; p < G::N_PIXELS; p++) {
                best = std::max(best, x[p * G::C + c]);
                sum += x[p * G::C + c] - G::IN_ZP;
            }
            want.push_back(is_max ? std::min<int64_t>(std::max<int64_t>(best, G::OUT_LO), G::OUT_HI)
                                  : ref_requant(sum, M, S, G::OUT_ZP, G::OUT_LO, G::OUT_HI));
        }
    }
    vec got;
    const unsigned long long c0 = fa::sim::cycles();
    if (is_max) {
        fa::global_max_pool<G>(in, out_max, reps);
        got = pop_words<G::SIMD, G::BITS, (G::OUT_LO < 0)>(out_max);
    } else {
        fa::global_avg_pool<G>(in, out_avg, M, S, reps);
        got = pop_words<G::SIMD, G::OUT_BITS, (G::OUT_LO < 0)>(out_avg);
    }
    chk.cycles(std::string(name) + " cycles = N_PIXELS*CF + CF", c0,
               (unsigned long long)(G::N_PIXELS + 1) * (G::C / G::SIMD) * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, got, want);
}

static void run_all(Checker& chk) {
    //               IH IW C  KH KW SH SW DH DW PT PL PB PR SIMD BITS SGN  IZP OB OZP LO    HI  CIP
    run_max<PoolCfg<8, 8, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 2, 8, true, 0, 0, 0, -128, 127, true> >(chk, "max 2x2 s2 int8");
    run_max<PoolCfg<7, 9, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 3, 8, false, 0, 0, 0, 20, 200, true> >(
        chk, "max 3x3 s2 p1 uint8 clamp");
    run_max<PoolCfg<9, 7, 4, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1, 4, true, 0, 0, 0, 0, 7, true> >(chk, "max 3x3 d2 int4 relu");
    run_max<PoolCfg<6, 6, 2, 3, 2, 3, 2, 1, 1, 1, 0, 1, 1, 2, 16, true, 0, 0, 0, -32768, 32767, true> >(
        chk, "max 3x2 asym int16");
    run_avg<PoolCfg<8, 8, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 4, 8, false, 37, 8, 12, 0, 255, true> >(chk, "avg 2x2 s2 uint8");
    run_avg<PoolCfg<7, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 8, true, -20, 8, 5, -128, 127, false> >(
        chk, "avg 3x3 p1 exclude-pad int8");
    run_avg<PoolCfg<7, 7, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2, 8, true, 3, 8, -3, -128, 127, true> >(
        chk, "avg 3x3 s2 p1 include-pad int8");
    run_avg<PoolCfg<9, 8, 4, 5, 3, 2, 1, 1, 2, 2, 2, 2, 2, 2, 4, false, 9, 6, 30, 30, 63, false> >(
        chk, "avg 5x3 dil uint4->uint6 relu");
    run_avg<PoolCfg<5, 5, 2, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0, 1, 12, true, 100, 10, 0, -512, 511, false> >(
        chk, "avg 2x2 p1 int12->int10");
    //                   NP  C  SIMD BITS SGN  IZP   OB OZP LO   HI
    run_global<GCfg<49, 8, 4, 8, true, -5, 8, 2, -128, 127> >(chk, "gap 7x7 int8", false);
    run_global<GCfg<16, 6, 6, 8, false, 128, 8, 120, 0, 255> >(chk, "gap 4x4 uint8 SIMD=C", false);
    run_global<GCfg<10, 4, 1, 3, true, 0, 5, 0, 0, 15> >(chk, "gap int3->int5 relu", false);
    run_global<GCfg<25, 8, 2, 8, true, 0, 8, 0, -128, 127> >(chk, "gmp 5x5 int8", true);
    run_global<GCfg<9, 4, 4, 16, false, 0, 16, 0, 100, 60000> >(chk, "gmp uint16 clamp", true);
}

int main() {
    Checker chk;
    return chk.both_paths("tb_pool", run_all);
}
