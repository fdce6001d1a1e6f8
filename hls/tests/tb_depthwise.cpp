// Testbench for fpga_accel/depthwise.h: sliding window (depthwise order) + depthwise PE, and
// parallel window (KP kernel positions per word) + depthwise PE with PE = C, against a direct int64
// depthwise convolution with real-zero padding, over PE and KP folds, kernels, strides, dilations,
// bit widths and signedness.
#include "fpga_accel/depthwise.h"
#include "fpga_accel/parallel_window.h"
#include "fpga_accel/sliding_window.h"
#include "tb_common.h"

#include <cmath>

template <int IH_, int IW_, int C_, int KH_, int KW_, int SH_, int SW_, int DH_, int DW_, int PT, int PL, int PB,
          int PR, int PE_, int BITS_, int ZP>
struct SwCfg {
    static const int IH = IH_, IW = IW_, C = C_, KH = KH_, KW = KW_, SH = SH_, SW = SW_, DH = DH_, DW = DW_;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, SIMD = PE_, BITS = BITS_, PAD_VALUE = ZP, PX = 1;
    static const bool DEPTHWISE = true;
};

// KP_ > 1: S is a parallel_window config (SIMD = KP*C) and the PE takes all C channels.
template <class S, bool IS, int WB, int AB, int OB, int ZP, int LO, int HI, int KP_ = 1>
struct DwCfg {
    static const unsigned C = S::C, KP = KP_, PE = S::SIMD / KP_, K = S::KH * S::KW;
    static const unsigned N_VECTORS = fa::window_dims<S>::OH * fa::window_dims<S>::OW;
    static const int IN_BITS = S::BITS, W_BITS = WB, ACC_BITS = AB, OUT_BITS = OB, OUT_ZP = ZP, OUT_LO = LO, OUT_HI = HI;
    static const bool IN_SIGNED = IS;
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
    hls::stream<ap_uint<(C::KP > 1 ? S::C : C::PE) * C::IN_BITS> > in("in");
    hls::stream<ap_uint<C::KP * C::PE * C::IN_BITS> > win("win");
    hls::stream<ap_uint<C::PE * C::OUT_BITS> > out("out");
    vec want;
    for (int rep = 0; rep < reps; rep++) {
        vec x = rand_vec((size_t)S::IH * S::IW * S::C, qmin(S::BITS, C::IN_SIGNED), qmax(S::BITS, C::IN_SIGNED));
        push_words<(C::KP > 1 ? S::C : C::PE), C::IN_BITS>(in, x);
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
    Window<S, (C::KP > 1)>::run(in, win, reps);
    const unsigned long long c0 = fa::sim::cycles();
    fa::depthwise<C>(win, out, wt, bias, mm, ss, reps);
    chk.cycles(std::string(name) + " cycles = OH*OW*(C/PE)*KH*KW/KP", c0,
               (unsigned long long)D::OH * D::OW * CF * S::KH * S::KW / C::KP * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty() && win.empty());
    chk.same(name, pop_words<C::PE, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
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
}

int main() {
    Checker chk;
    return chk.both_paths("tb_depthwise", run_all);
}
