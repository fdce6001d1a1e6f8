// Testbench for fpga_accel/depthwise.h: sliding window (depthwise order) + depthwise PE, and
// parallel window (KP kernel positions and PX pixels per word) + depthwise PE with PE = C, against a
// direct int64 depthwise convolution with real-zero padding, over PE, KP and PX folds, packed and
// single multipliers, kernels, strides, dilations, bit widths and signedness; and the packed
// two-pixel multiply against the exact products over every int8 weight and activation.
#include "fpga_accel/depthwise.h"
#include "fpga_accel/parallel_window.h"
#include "fpga_accel/sliding_window.h"
#include "tb_common.h"

#include <cmath>

template <int IH_, int IW_, int C_, int KH_, int KW_, int SH_, int SW_, int DH_, int DW_, int PT, int PL, int PB,
          int PR, int PE_, int BITS_, int ZP, int PX_ = 1>
struct SwCfg {
    static const int IH = IH_, IW = IW_, C = C_, KH = KH_, KW = KW_, SH = SH_, SW = SW_, DH = DH_, DW = DW_;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, SIMD = PE_, BITS = BITS_, PAD_VALUE = ZP, PX = PX_;
    static const bool DEPTHWISE = true;
};

// KP_ > 1 or S::PX > 1: S is a parallel_window config (SIMD = KP*C) and the PE takes all C channels.
// PACK_ = 2: pixel pairs share multiplies (PACK_SHIFT = W + A, the width of one product).
// RQ_ > 0: that many time-shared requantisers (requant.h); 0: none declared, one per lane.
template <class S, bool IS, int WB, int AB, int OB, int ZP, int LO, int HI, int KP_ = 1, int PACK_ = 1, int RQ_ = 0>
struct DwCfg;
template <class S, bool IS, int WB, int AB, int OB, int ZP, int LO, int HI, int KP_, int PACK_>
struct DwCfg<S, IS, WB, AB, OB, ZP, LO, HI, KP_, PACK_, 0> {
    static const unsigned C = S::C, KP = KP_, PE = S::SIMD / KP_, K = S::KH * S::KW, PX = S::PX;
    static const int PACK = PACK_, PACK_SHIFT = PACK_ == 2 ? WB + S::BITS : 0;
    static const unsigned N_VECTORS = fa::window_dims<S>::OH * fa::window_dims<S>::OW;
    static const int IN_BITS = S::BITS, W_BITS = WB, ACC_BITS = AB, OUT_BITS = OB, OUT_ZP = ZP, OUT_LO = LO, OUT_HI = HI;
    static const bool IN_SIGNED = IS;
};
template <class S, bool IS, int WB, int AB, int OB, int ZP, int LO, int HI, int KP_, int PACK_, int RQ_>
struct DwCfg : DwCfg<S, IS, WB, AB, OB, ZP, LO, HI, KP_, PACK_, 0> {
    static const unsigned RQ = RQ_;
};

// The window in front of the PE: KP > 1 kernel positions per word need the parallel window.
template <class S, bool PARALLEL> struct Window {
    template <class I, class O> static void run(I& in, O& out, int reps) { fa::sliding_window<S>(in, out, reps); }
};
template <class S> struct Window<S, true> {
    template <class I, class O> static void run(I& in, O& out, int reps) { fa::parallel_window<S>(in, out, reps); }
};

template <class S, class C>
void run(Checker& chk, const char* name, int reps = 2) {
    typedef fa::window_dims<S> D;
    const unsigned CF = C::C / C::PE;
    const int zp_in = S::PAD_VALUE;
    const int64_t wmax = (int64_t(1) << (C::W_BITS - 1)) - 1;
    std::vector<vec> w(C::C);  // w[c][ky*KW + kx]
    for (auto& f : w) f = rand_vec(C::K, -wmax, wmax);
    const double spread = std::sqrt((double)C::K) * std::ldexp(1.0, C::IN_BITS + C::W_BITS - 3);
    vec b = rand_vec(C::C, -(int64_t)(2 * spread), (int64_t)(2 * spread)), m(C::C), sh(C::C);
    for (unsigned c = 0; c < C::C; c++) {
        m[c] = rand_int(1 << 16, (1 << 17) - 1);
        sh[c] = std::max<int64_t>(1, std::lround(std::log2(m[c] * spread)) - (C::OUT_BITS - 2) + rand_int(-1, 1));
    }
    const unsigned NK = C::K / C::KP;
    static ap_uint<C::KP * C::PE * C::W_BITS> wt[1][C::C / C::PE * (C::K / C::KP)];  // one memory, unpacked
    static ap_int<C::ACC_BITS> bias[C::PE][C::C / C::PE];
    static fa::mult_t mm[C::PE][C::C / C::PE];
    static fa::shift_t ss[C::PE][C::C / C::PE];
    for (unsigned cf = 0; cf < CF; cf++)
        for (unsigned p = 0; p < C::PE; p++) {
            const unsigned c = cf * C::PE + p;
            int64_t sum = 0;
            for (unsigned k = 0; k < C::K; k++) {
                fa::set_lane<C::W_BITS>(wt[0][cf * NK + k / C::KP], (k % C::KP) * C::PE + p, w[c][k]);
                sum += w[c][k];
            }
            bias[p][cf] = b[c] - zp_in * sum;  // zero point folded into the bias
            mm[p][cf] = m[c];
            ss[p][cf] = sh[c];
        }
    static const bool PARALLEL = C::KP > 1 || C::PX > 1;
    hls::stream<ap_uint<C::PX * (PARALLEL ? S::C : C::PE) * C::IN_BITS> > in("in");
    hls::stream<ap_uint<C::PX * C::KP * C::PE * C::IN_BITS> > win("win");
    hls::stream<ap_uint<C::PX * C::PE * C::OUT_BITS> > out("out");
    vec want;
    for (int rep = 0; rep < reps; rep++) {
        vec x = rand_vec((size_t)S::IH * S::IW * S::C, qmin(S::BITS, C::IN_SIGNED), qmax(S::BITS, C::IN_SIGNED));
        push_words<C::PX * (PARALLEL ? S::C : C::PE), C::IN_BITS>(in, x);
        for (int oy = 0; oy < D::OH; oy++)
            for (int ox = 0; ox < D::OW; ox++)
                for (unsigned c = 0; c < C::C; c++) {
                    int64_t acc = b[c];
                    for (int ky = 0; ky < S::KH; ky++)
                        for (int kx = 0; kx < S::KW; kx++) {
                            const int iy = oy * S::SH - S::PAD_T + ky * S::DH, ix = ox * S::SW - S::PAD_L + kx * S::DW;
                            if (iy >= 0 && iy < S::IH && ix >= 0 && ix < S::IW)
                                acc += w[c][ky * S::KW + kx] * (x[((size_t)iy * S::IW + ix) * S::C + c] - zp_in);
                        }
                    want.push_back(ref_requant(acc, m[c], sh[c], C::OUT_ZP, C::OUT_LO, C::OUT_HI));
                }
    }
    Window<S, PARALLEL>::run(in, win, reps);
    const unsigned long long c0 = fa::sim::cycles();
    fa::depthwise<C>(win, out, wt, bias, mm, ss, reps);
    chk.cycles(std::string(name) + " cycles = OH*OW/PX*(C/PE)*KH*KW/KP (+ STEPS shared)", c0,
               (unsigned long long)D::OH * D::OW / C::PX * CF * S::KH * S::KW / C::KP * reps +
                   fa::depthwise_dims<C>::DRAIN);
    chk.ok(std::string(name) + " consumes all input", in.empty() && win.empty());
    chk.same(name, pop_words<C::PX * C::PE, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    //                 IH IW C  KH KW SH SW DH DW PT PL PB PR PE BITS ZP      IS  WB AB OB ZP  LO    HI
    typedef SwCfg<6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4, 8, -4> S1;
    run<S1, DwCfg<S1, true, 8, 32, 8, 2, -128, 127> >(chk, "dw 3x3 s1 p1 int8 PE4");
    typedef SwCfg<7, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6, 8, 140> S2;
    run<S2, DwCfg<S2, false, 8, 32, 8, 0, 0, 255> >(chk, "dw 3x3 s2 uint8 PE=C relu");
    typedef SwCfg<9, 9, 4, 5, 5, 1, 1, 2, 2, 4, 4, 4, 4, 1, 4, 3> S3;
    run<S3, DwCfg<S3, true, 4, 32, 4, -1, -8, 7> >(chk, "dw 5x5 d2 int4 PE1");
    typedef SwCfg<8, 5, 4, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0, 2, 16, 1000> S4;
    run<S4, DwCfg<S4, false, 8, 32, 16, 30000, 0, 65535> >(chk, "dw 3x1 uint16 w8");
    typedef SwCfg<5, 5, 2, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, 2, 2, 0> S5;
    run<S5, DwCfg<S5, true, 2, 32, 2, 0, -2, 1> >(chk, "dw 2x2 s2 int2");
    // KP kernel positions per word (parallel window, SIMD = KP*C, PE = C)
    typedef SwCfg<6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8 * 3, 8, -4> P1;
    run<P1, DwCfg<P1, true, 8, 32, 8, 2, -128, 127, 3> >(chk, "dw 3x3 s1 p1 int8 KP3");
    typedef SwCfg<7, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6 * 9, 8, 140> P2;
    run<P2, DwCfg<P2, false, 8, 32, 8, 0, 0, 255, 9> >(chk, "dw 3x3 s2 uint8 KP9 relu");
    typedef SwCfg<9, 9, 4, 5, 5, 1, 1, 2, 2, 4, 4, 4, 4, 4 * 5, 4, 3> P3;
    run<P3, DwCfg<P3, true, 4, 32, 4, -1, -8, 7, 5> >(chk, "dw 5x5 d2 int4 KP5");
    typedef SwCfg<8, 5, 1, 3, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1 * 3, 16, 1000> P4;
    run<P4, DwCfg<P4, false, 8, 32, 16, 30000, 0, 65535, 3> >(chk, "dw 3x1 uint16 C1 KP3");
    typedef SwCfg<5, 5, 2, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1, 2 * 2, 2, 0> P5;
    run<P5, DwCfg<P5, true, 2, 32, 2, 0, -2, 1, 2> >(chk, "dw 2x2 s2 int2 KP2");
    // PX pixels per word (parallel window at PX), single and packed multipliers
    //                 IH IW C  KH KW SH SW DH DW PT PL PB PR SIMD BITS ZP PX
    typedef SwCfg<6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8, -4, 2> X1;
    run<X1, DwCfg<X1, true, 8, 32, 8, 2, -128, 127, 1, 1> >(chk, "dw 3x3 s1 p1 int8 PX2");
    run<X1, DwCfg<X1, true, 8, 32, 8, 2, -128, 127, 1, 2> >(chk, "dw 3x3 s1 p1 int8 PX2 packed");
    typedef SwCfg<7, 8, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 6 * 3, 8, 140, 4> X2;
    run<X2, DwCfg<X2, false, 8, 32, 8, 0, 0, 255, 3, 2> >(chk, "dw 3x3 s2 uint8 KP3 PX4 packed relu");
    typedef SwCfg<9, 12, 4, 5, 5, 1, 1, 2, 2, 4, 4, 4, 4, 4, 8, 3, 4> X3;
    run<X3, DwCfg<X3, true, 8, 32, 8, -1, -128, 127, 1, 2> >(chk, "dw 5x5 d2 int8 PX4 packed");
    typedef SwCfg<5, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3 * 9, 8, 0, 2> X4;
    run<X4, DwCfg<X4, false, 8, 32, 8, 0, 0, 255, 9, 2> >(chk, "dw 3x3 uint8 KP9 PX2 packed");
    typedef SwCfg<4, 4, 2, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 2, 16, 1000, 2> X5;
    run<X5, DwCfg<X5, false, 8, 32, 16, 30000, 0, 65535, 1, 1> >(chk, "dw 2x2 s2 uint16 PX2");
    // time-shared requantisers: RQ = ceil(lanes / NK) and others, with STEPS < NK and STEPS = NK
    run<S1, DwCfg<S1, true, 8, 32, 8, 2, -128, 127, 1, 1, 1> >(chk, "dw 3x3 PE4 RQ1 (4 steps of 9)");
    run<S2, DwCfg<S2, false, 8, 32, 8, 0, 0, 255, 1, 1, 4> >(chk, "dw 3x3 s2 PE6 RQ4 (2 steps, 2 spare slots)");
    run<S4, DwCfg<S4, false, 8, 32, 16, 30000, 0, 65535, 1, 1, 1> >(chk, "dw 3x1 uint16 PE2 RQ1");
    typedef SwCfg<9, 9, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 9, 8, 5> S6;
    run<S6, DwCfg<S6, true, 8, 32, 8, -3, -100, 90, 1, 1, 1> >(chk, "dw 3x3 PE9 RQ1 (STEPS = NK = 9)");
    run<X1, DwCfg<X1, true, 8, 32, 8, 2, -128, 127, 1, 2, 2> >(chk, "dw 3x3 PX2 packed RQ2 (16 lanes, 8 steps)");
    run<X2, DwCfg<X2, false, 8, 32, 8, 0, 0, 255, 3, 2, 8> >(chk, "dw 3x3 s2 KP3 PX4 packed RQ8 (24 lanes, 3 steps)");
}

// The packed two-pixel multiply equals the two exact products for every weight and low activation
// and a spread of high ones (their extremes included).
template <bool IS> void packed_exhaustive(Checker& chk, const char* name) {
    typedef typename fa::qint<8, IS>::type a_t;
    const int lo = fa::qint<8, IS>::min, hi = fa::qint<8, IS>::max;
    const int highs[] = {lo, lo + 1, -1, 0, 1, 37, 100, hi - 1, hi};
    long bad = 0;
    for (int w = -128; w <= 127; w++)
        for (int a0 = lo; a0 <= hi; a0++)
            for (int a1 : highs) {
                if (a1 < lo || a1 > hi) continue;
                ap_int<17> p0, p1;
                fa::packed_pixels_mul<8, 8, IS, 16>(ap_int<8>(w), a_t(a0), a_t(a1), p0, p1);
                bad += p0.to_int() != w * a0 || p1.to_int() != w * a1;
            }
    chk.ok(name, bad == 0);
}

static void run_all_and_pack(Checker& chk) {
    run_all(chk);
    packed_exhaustive<true>(chk, "packed pixels int8 x int8 exact");
    packed_exhaustive<false>(chk, "packed pixels int8 x uint8 exact");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_depthwise", run_all_and_pack);
}
