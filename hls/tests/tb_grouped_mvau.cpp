// Testbench for fpga_accel/grouped_mvau.h: sliding window (MVAU order) + grouped MVAU against a direct
// int64 grouped convolution with real-zero padding, over groups 2, 4 and 8, PE/SIMD folds within a
// group, strides, pads, bit widths, signedness and packed multipliers; the loop count against the
// header's formula.
#include "fpga_accel/grouped_mvau.h"
#include "fpga_accel/sliding_window.h"
#include "tb_common.h"

#include <cmath>

template <int IH_, int IW_, int C_, int KH_, int KW_, int SH_, int SW_, int PT, int PL, int PB, int PR, int SIMD_,
          int BITS_, int ZP>
struct SwCfg {
    static const int IH = IH_, IW = IW_, C = C_, KH = KH_, KW = KW_, SH = SH_, SW = SW_, DH = 1, DW = 1;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, SIMD = SIMD_, BITS = BITS_, PAD_VALUE = ZP;
    static const bool DEPTHWISE = false;
};

template <class S, int G_, int MH_, int PE_, bool IS, int WB, int AB, int OB, int ZP, int LO, int HI, int PACK_ = 1>
struct GCfg {
    static const unsigned C = S::C, G = G_, K = S::KH * S::KW, MH = MH_, SIMD = S::SIMD, PE = PE_;
    static const unsigned N_VECTORS = fa::window_dims<S>::OH * fa::window_dims<S>::OW;
    static const int IN_BITS = S::BITS, W_BITS = WB, ACC_BITS = AB, OUT_BITS = OB, OUT_ZP = ZP, OUT_LO = LO, OUT_HI = HI;
    static const bool IN_SIGNED = IS, MUL_FABRIC = false;
    static const int PACK = PACK_, PACK_SHIFT = PACK_ == 2 ? WB + S::BITS : 0;
};

template <class S, class C>
void run(Checker& chk, const char* name, int reps = 2) {
    typedef fa::window_dims<S> WD;
    typedef fa::grouped_mvau_dims<C> D;
    const int zp_in = S::PAD_VALUE;
    const unsigned KCG = C::K * D::CG;  // columns of one output channel: t*CG + c
    const int64_t wmax = (int64_t(1) << (C::W_BITS - 1)) - 1;
    std::vector<vec> w(C::MH);
    for (auto& f : w) f = rand_vec(KCG, -wmax - 1, wmax);
    const double spread = std::sqrt((double)KCG) * std::ldexp(1.0, C::IN_BITS + C::W_BITS - 3);
    vec b = rand_vec(C::MH, -(int64_t)(2 * spread), (int64_t)(2 * spread)), m(C::MH), sh(C::MH);
    for (unsigned r = 0; r < C::MH; r++) {
        m[r] = rand_int(1 << 16, (1 << 17) - 1);
        sh[r] = std::max<int64_t>(1, std::lround(std::log2(m[r] * spread)) - (C::OUT_BITS - 2) + rand_int(-1, 1));
    }
    static ap_uint<C::SIMD * C::W_BITS> wt[C::PE][D::TILES];
    static ap_int<C::ACC_BITS> bias[C::PE][D::NF];
    static fa::mult_t mm[C::PE][D::NF];
    static fa::shift_t ss[C::PE][D::NF];
    for (unsigned nf = 0; nf < D::NF; nf++)
        for (unsigned p = 0; p < C::PE; p++) {
            const unsigned r = nf * C::PE + p;
            int64_t sum = 0;
            for (unsigned col = 0; col < KCG; col++) {
                fa::set_lane<C::W_BITS>(wt[p][nf * D::SFG + col / C::SIMD], col % C::SIMD, w[r][col]);
                sum += w[r][col];
            }
            bias[p][nf] = b[r] - zp_in * sum;  // zero point folded into the bias
            mm[p][nf] = m[r];
            ss[p][nf] = sh[r];
        }
    hls::stream<ap_uint<C::SIMD * C::IN_BITS> > in("in"), win("win");
    hls::stream<ap_uint<C::PE * C::OUT_BITS> > out("out");
    vec want;
    for (int rep = 0; rep < reps; rep++) {
        vec x = rand_vec((size_t)S::IH * S::IW * S::C, qmin(S::BITS, C::IN_SIGNED), qmax(S::BITS, C::IN_SIGNED));
        push_words<C::SIMD, C::IN_BITS>(in, x);
        for (int oy = 0; oy < WD::OH; oy++)
            for (int ox = 0; ox < WD::OW; ox++)
                for (unsigned r = 0; r < C::MH; r++) {
                    const unsigned g = r / D::MG;
                    int64_t acc = b[r];
                    for (int ky = 0; ky < S::KH; ky++)
                        for (int kx = 0; kx < S::KW; kx++) {
                            const int iy = oy * S::SH - S::PAD_T + ky, ix = ox * S::SW - S::PAD_L + kx;
                            if (iy < 0 || iy >= S::IH || ix < 0 || ix >= S::IW) continue;
                            for (unsigned c = 0; c < D::CG; c++)
                                acc += w[r][(ky * S::KW + kx) * D::CG + c] *
                                       (x[((size_t)iy * S::IW + ix) * S::C + g * D::CG + c] - zp_in);
                        }
                    want.push_back(ref_requant(acc, m[r], sh[r], C::OUT_ZP, C::OUT_LO, C::OUT_HI));
                }
    }
    fa::sliding_window<S>(in, win, reps);
    const unsigned long long c0 = fa::sim::cycles();
    fa::grouped_mvau<C>(win, out, wt, bias, mm, ss, reps);
    chk.cycles(std::string(name) + " cycles = (OH*OW*reps + 1)*(MH/PE)*(K*CG/SIMD)", c0,
               (unsigned long long)(WD::OH * WD::OW * reps + 1) * D::NF * D::SFG);
    chk.ok(std::string(name) + " consumes all input", in.empty() && win.empty());
    chk.same(name, pop_words<C::PE, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    //                 IH IW C  KH KW SH SW PT PL PB PR SIMD BITS ZP
    typedef SwCfg<6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 2, 8, -4> S1;
    //                 G  MH PE IS    WB AB OB ZP LO    HI
    run<S1, GCfg<S1, 2, 6, 3, true, 8, 32, 8, 2, -128, 127> >(chk, "g2 3x3 s1 p1 int8 PE3 SIMD2");
    run<S1, GCfg<S1, 2, 6, 1, true, 8, 32, 8, 2, -128, 127> >(chk, "g2 3x3 s1 p1 int8 PE1 SIMD2");
    typedef SwCfg<7, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 8, 140> S2;
    run<S2, GCfg<S2, 4, 8, 2, false, 8, 32, 8, 0, 0, 255, 2> >(chk, "g4 3x3 s2 uint8 PE2 SIMD1 packed");
    run<S2, GCfg<S2, 4, 12, 1, false, 8, 32, 8, 0, 0, 255> >(chk, "g4 3x3 s2 uint8 MG3 PE1");
    typedef SwCfg<5, 5, 8, 1, 1, 1, 1, 0, 0, 0, 0, 1, 4, 3> S3;
    run<S3, GCfg<S3, 8, 16, 2, true, 4, 32, 4, -1, -8, 7> >(chk, "g8 1x1 int4 PE2");
    typedef SwCfg<6, 5, 16, 3, 2, 1, 2, 2, 0, 1, 1, 2, 6, 20> S4;
    run<S4, GCfg<S4, 8, 8, 1, false, 5, 34, 6, 3, 0, 63> >(chk, "g8 3x2 s(1,2) uneven pads uint6 SIMD2 PE1");
    typedef SwCfg<5, 6, 12, 2, 2, 2, 1, 0, 1, 1, 0, 6, 12, -700> S5;
    run<S5, GCfg<S5, 2, 4, 2, true, 10, 40, 12, 0, -2048, 2047> >(chk, "g2 2x2 int12 SIMD=CG PE=MG");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_grouped_mvau", run_all);
}
