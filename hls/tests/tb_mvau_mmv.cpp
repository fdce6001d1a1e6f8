// Testbench for fpga_accel/mvau_mmv.h: parallel window at PX pixels per word + MMV MVAU against a
// direct int64 convolution (zero-point padding) over PX, KP (SIMD = KP*C), PE (every output channel,
// or NF = MH/PE neuron folds replaying the group's vectors), strides, pads, dilation, bit widths,
// packed / LUT / plain multipliers and packed weight memories (WM_PES, WM_SLOTS); and a 1x1
// convolution reading PX whole pixels of the stream without a window. Several images per call;
// cycles = N_VECTORS/PX*NF*SF.
#include "fpga_accel/mvau_mmv.h"
#include "fpga_accel/parallel_window.h"
#include "tb_common.h"

#include <cmath>

template <int IH_, int IW_, int C_, int K_, int S_, int DIL, int PT, int PL, int PB, int PR, int KP_, int PX_, int BITS_,
          int ZP>
struct WinCfg {
    static const int IH = IH_, IW = IW_, C = C_, KH = K_, KW = K_, SH = S_, SW = S_, DH = DIL, DW = DIL;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, SIMD = KP_ * C_, PX = PX_, BITS = BITS_;
    static const int PAD_VALUE = ZP;
    static const bool DEPTHWISE = false;
};

template <class S, int MH_, bool IS, int WB, int AB, int OB, int ZP, int LO, int HI, int PACK_ = 1, bool FABRIC = false,
          int PE_ = MH_, int SIMD_ = S::SIMD>
struct MmvCfg {  // the window's words (IN_SIMD columns per vector) in SIMD-column slices
    static const unsigned MW = S::KH * S::KW * S::C, MH = MH_, SIMD = SIMD_, IN_SIMD = S::SIMD, PE = PE_, PX = S::PX;
    static const unsigned N_VECTORS = fa::window_dims<S>::OH * fa::window_dims<S>::OW;
    static const int IN_BITS = S::BITS, W_BITS = WB, ACC_BITS = AB, OUT_BITS = OB, OUT_ZP = ZP, OUT_LO = LO, OUT_HI = HI;
    static const bool IN_SIGNED = IS, MUL_FABRIC = FABRIC;
    static const int PACK = PACK_, PACK_SHIFT = PACK_ == 2 ? WB + S::BITS : 0;  // the shift pe/mvau.py emits
};

// C with its weight memories packed (weight_memory.h).
template <class C, unsigned P, unsigned R> struct WithWm : C {
    static const unsigned WM_PES = P, WM_SLOTS = R;
};

// C with RQ time-shared requantisers (requant.h).
template <class C, unsigned RQ_> struct WithRq : C {
    static const unsigned RQ = RQ_;
};

template <class S, class C, bool WINDOW = true>
void run(Checker& chk, const char* name, int reps = 2) {
    typedef fa::window_dims<S> D;
    typedef fa::mvau_mmv_dims<C> M;
    typedef fa::mvau_wm<C, M::TILES> WM;
    const int zp_in = S::PAD_VALUE;
    const int64_t wmax = (int64_t(1) << (C::W_BITS - 1)) - 1;
    std::vector<vec> W(C::MH);  // W[oc][(ky*KW + kx)*C + c]
    for (auto& r : W) r = rand_vec(C::MW, -wmax - 1, wmax);
    const double sp = std::sqrt((double)C::MW) * std::ldexp(1.0, C::IN_BITS + C::W_BITS - 3);
    vec b = rand_vec(C::MH, -(int64_t)(2 * sp), (int64_t)(2 * sp)), m(C::MH), sh(C::MH);
    static typename WM::word_t wt[WM::BANKS][WM::DEPTH];
    static ap_int<C::ACC_BITS> bias[C::PE][M::NF];
    static fa::mult_t mm[C::PE][M::NF];
    static fa::shift_t ss[C::PE][M::NF];
    for (unsigned r = 0; r < C::MH; r++) {
        const unsigned p = r % C::PE, nf = r / C::PE;  // channel nf*PE + p
        m[r] = rand_int(1 << 16, (1 << 17) - 1);
        sh[r] = std::max<int64_t>(1, std::lround(std::log2(m[r] * sp)) - (C::OUT_BITS - 2) + rand_int(-1, 1));
        int64_t sum = 0;
        for (unsigned c = 0; c < C::MW; c++) {  // memory p's word nf*SF + sf, in weight_memory.h's slots
            const unsigned tile = nf * M::SF + c / C::SIMD;
            const unsigned slot = (tile % fa::wm_slots<C>::value) * fa::wm_pes<C>::value + p % fa::wm_pes<C>::value;
            fa::set_lane<C::W_BITS>(wt[p / fa::wm_pes<C>::value][tile / fa::wm_slots<C>::value],
                                    slot * C::SIMD + c % C::SIMD, W[r][c]);
            sum += W[r][c];
        }
        bias[p][nf] = b[r] - zp_in * sum;  // zero point folded into the bias
        mm[p][nf] = m[r];
        ss[p][nf] = sh[r];
    }
    hls::stream<ap_uint<C::PX * S::C * S::BITS> > in("in");
    hls::stream<ap_uint<C::PX * S::SIMD * C::IN_BITS> > win("win");
    hls::stream<ap_uint<C::PX * C::MH * C::OUT_BITS> > out("out");
    vec want;
    for (int rep = 0; rep < reps; rep++) {
        vec x = rand_vec((size_t)S::IH * S::IW * S::C, qmin(S::BITS, C::IN_SIGNED), qmax(S::BITS, C::IN_SIGNED));
        if constexpr (WINDOW)
            push_words<C::PX * S::C, S::BITS>(in, x);
        else  // 1x1 stride 1 without padding: the MVAU reads the input stream itself
            push_words<C::PX * S::C, S::BITS>(win, x);
        for (int oy = 0; oy < D::OH; oy++)
            for (int ox = 0; ox < D::OW; ox++)
                for (unsigned oc = 0; oc < C::MH; oc++) {
                    int64_t acc = b[oc];
                    for (int ky = 0; ky < S::KH; ky++)
                        for (int kx = 0; kx < S::KW; kx++) {
                            const int iy = oy * S::SH - S::PAD_T + ky * S::DH, ix = ox * S::SW - S::PAD_L + kx * S::DW;
                            if (iy < 0 || iy >= S::IH || ix < 0 || ix >= S::IW) continue;
                            for (int c = 0; c < S::C; c++)
                                acc += W[oc][(ky * S::KW + kx) * S::C + c] * (x[((size_t)iy * S::IW + ix) * S::C + c] - zp_in);
                        }
                    want.push_back(ref_requant(acc, m[oc], sh[oc], C::OUT_ZP, C::OUT_LO, C::OUT_HI));
                }
    }
    if constexpr (WINDOW) fa::parallel_window<S>(in, win, reps);
    const unsigned long long c0 = fa::sim::cycles();
    fa::mvau_mmv<C>(win, out, wt, bias, mm, ss, reps);
    chk.cycles(std::string(name) + " cycles = N_VECTORS/PX*(MH/PE)*(MW/SIMD)", c0,
               (unsigned long long)C::N_VECTORS / C::PX * (C::MH / C::PE) * (C::MW / C::SIMD) * reps + M::DRAIN);
    chk.ok(std::string(name) + " consumes all input", in.empty() && win.empty());
    chk.same(name, pop_words<C::PX * C::MH, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

static void run_all(Checker& chk) {
    //             IH IW C  K S D PT PL PB PR KP PX BITS ZP
    typedef WinCfg<6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 9, 2, 8, -3> A;
    run<A, MmvCfg<A, 4, true, 8, 32, 8, 1, -128, 127> >(chk, "3x3 p1 KP9 PX2");
    typedef WinCfg<6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 3, 4, 8, -3> B;
    run<B, MmvCfg<B, 4, true, 8, 32, 8, 1, -128, 127, 2> >(chk, "3x3 p1 KP3 PX4 packed");
    typedef WinCfg<8, 16, 3, 3, 2, 1, 1, 1, 0, 0, 9, 4, 8, 7> S2;
    run<S2, MmvCfg<S2, 8, false, 8, 32, 8, 0, 0, 255> >(chk, "3x3 s2 stem KP9 PX4 uint8 relu");
    typedef WinCfg<7, 8, 2, 5, 1, 1, 2, 2, 2, 2, 1, 2, 6, 2> F;
    run<F, MmvCfg<F, 3, true, 4, 32, 6, -2, -32, 31, 1, true> >(chk, "5x5 p2 KP1 PX2 LUT int6");
    typedef WinCfg<8, 12, 1, 3, 1, 2, 2, 2, 2, 2, 3, 4, 8, 0> G;
    run<G, MmvCfg<G, 2, true, 8, 32, 8, 0, -128, 127> >(chk, "3x3 d2 C1 KP3 PX4");
    typedef WinCfg<4, 8, 6, 1, 1, 1, 0, 0, 0, 0, 1, 4, 8, 5> P;
    run<P, MmvCfg<P, 5, false, 8, 32, 8, 3, 0, 255>, false>(chk, "1x1 stream PX4");
    // time-shared requantisers: STEPS = SF, spare slots, STEPS below SF
    run<B, WithRq<MmvCfg<B, 4, true, 8, 32, 8, 1, -128, 127, 2>, 6> >(chk, "KP3 PX4 packed RQ6 (16 lanes, 3 steps)");
    run<B, WithRq<MmvCfg<B, 4, true, 8, 32, 8, 1, -128, 127, 2>, 7> >(chk, "KP3 PX4 packed RQ7 (5 spare slots)");
    run<F, WithRq<MmvCfg<F, 3, true, 4, 32, 6, -2, -32, 31, 1, true>, 1> >(chk, "5x5 KP1 PX2 LUT RQ1 (6 of 25)");
    run<G, WithRq<MmvCfg<G, 2, true, 8, 32, 8, 0, -128, 127>, 3> >(chk, "C1 KP3 PX4 RQ3");
    // neuron folds (PE < MH): the group's vectors replayed NF times, fold nf's lanes in the held word
    //                                                            PACK FABRIC PE
    run<A, MmvCfg<A, 4, true, 8, 32, 8, 1, -128, 127, 1, false, 2> >(chk, "KP9 PX2 PE2 of 4 (SF 1)");
    typedef WinCfg<6, 9, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 8, -3> T;
    run<T, MmvCfg<T, 6, true, 8, 32, 8, 1, -128, 127, 2, false, 2> >(chk, "KP3 PX3 PE2 of 6 packed (SF 3)");
    run<T, MmvCfg<T, 6, true, 8, 32, 8, 1, -128, 127, 2, false, 3> >(chk, "KP3 PX3 PE3 of 6 packed (odd PE)");
    run<T, MmvCfg<T, 6, true, 8, 32, 8, 1, -128, 127, 1, false, 1> >(chk, "KP3 PX3 PE1 of 6 (NF 6)");
    run<F, MmvCfg<F, 3, true, 4, 32, 6, -2, -32, 31, 1, true, 1> >(chk, "5x5 KP1 PX2 PE1 of 3 LUT");
    typedef WinCfg<4, 6, 8, 1, 1, 1, 0, 0, 0, 0, 1, 3, 8, 5> Q;
    run<Q, MmvCfg<Q, 8, false, 8, 32, 8, 3, 0, 255, 2, false, 4>, false>(chk, "1x1 stream PX3 PE4 of 8");
    run<Q, WithWm<MmvCfg<Q, 8, false, 8, 32, 8, 3, 0, 255, 2, false, 2>, 1, 4>, false>(chk, "1x1 PX3 PE2 WM_SLOTS4");
    run<T, WithWm<MmvCfg<T, 6, true, 8, 32, 8, 1, -128, 127, 2, false, 3>, 2, 2> >(chk, "KP3 PX3 PE3 WM_PES2 SLOTS2");
    // SIMD below the input words' columns: slices of each held word (SPAN synapse folds per word)
    //                                                            PACK FABRIC PE SIMD
    run<Q, MmvCfg<Q, 8, false, 8, 32, 8, 3, 0, 255, 2, false, 4, 2>, false>(chk, "1x1 PX3 PE4 SIMD2 of 8 pixels");
    run<Q, MmvCfg<Q, 8, false, 8, 32, 8, 3, 0, 255, 2, false, 8, 4>, false>(chk, "1x1 PX3 PE8 SIMD4 (NF 1, SPAN 2)");
    run<T, MmvCfg<T, 6, true, 8, 32, 8, 1, -128, 127, 2, false, 2, 3> >(chk, "KP3 PX3 PE2 SIMD3 of 9 (SPAN 3)");
    run<A, MmvCfg<A, 4, true, 8, 32, 8, 1, -128, 127, 1, false, 4, 1> >(chk, "KP9 PX2 PE4 SIMD1 of 27");
    run<Q, WithRq<MmvCfg<Q, 8, false, 8, 32, 8, 3, 0, 255, 2, false, 4, 2>, 3>, false>(chk, "1x1 PX3 PE4 SIMD2 RQ3");
    // neuron folds with shared requantisers: STEPS = SF, STEPS below SF
    run<T, WithRq<MmvCfg<T, 6, true, 8, 32, 8, 1, -128, 127, 2, false, 2>, 2> >(chk, "KP3 PX3 PE2 RQ2 (6 lanes, 3 steps)");
    run<F, WithRq<MmvCfg<F, 3, true, 4, 32, 6, -2, -32, 31, 1, true, 1>, 1> >(chk, "5x5 KP1 PX2 PE1 LUT RQ1");
    run<T, WithRq<WithWm<MmvCfg<T, 6, true, 8, 32, 8, 1, -128, 127, 1, false, 3>, 3, 2>, 5> >(chk, "KP3 PX3 PE3 WM RQ5");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_mvau_mmv", run_all);
}
