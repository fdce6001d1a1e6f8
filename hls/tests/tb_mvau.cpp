// Testbench for fpga_accel/mvau.h: folded matrix-vector products (Gemm) and sliding window + MVAU
// (Conv) against direct int64 computation on the unfolded problem, over PE/SIMD folds, bit widths,
// signedness, kernel geometry, clamp bounds and several images per call; the packed multiply (two
// products per DSP) against plain products over every int8 x int8 / uint8 triple and the corner
// values of other widths; whole MVAUs with packed, LUT and plain multipliers on extreme weights; packed
// products summed in groups (PACK_GROUP) before one separation, at the group's extreme sums.
#include "fpga_accel/mvau.h"
#include "fpga_accel/sliding_window.h"
#include "tb_common.h"

#include <cmath>

template <int MW_, int MH_, int SIMD_, int PE_, int NV, int IB, bool IS, int WB, int AB, int OB, int ZP, int LO,
          int HI, int PACK_ = 1, bool FABRIC = false>
struct MvCfg {
    static const unsigned MW = MW_, MH = MH_, SIMD = SIMD_, PE = PE_, N_VECTORS = NV;
    static const int IN_BITS = IB, W_BITS = WB, ACC_BITS = AB, OUT_BITS = OB, OUT_ZP = ZP, OUT_LO = LO, OUT_HI = HI;
    static const bool IN_SIGNED = IS, MUL_FABRIC = FABRIC;
    static const int PACK = PACK_, PACK_SHIFT = PACK_ == 2 ? WB + IB : 0;  // the shift pe/mvau.py emits
};

// C with RQ time-shared requantisers (requant.h).
template <class C, unsigned RQ_> struct WithRq : C {
    static const unsigned RQ = RQ_;
};

// C with its packed products summed G lanes at a time (PACK_GROUP) at shift K (pe/cost.py:pack_group).
template <class C, unsigned G, int K> struct Grouped : C {
    static const unsigned PACK_GROUP = G;
    static const int PACK_SHIFT = K;
};

// Per-channel requantisation constants scaled so outputs spread over the output range.
struct Requant {
    vec m, shift;
};
inline Requant make_requant(int channels, double acc_spread, int out_bits) {
    Requant r;
    for (int c = 0; c < channels; c++) {
        int64_t m = rand_int(1 << 16, (1 << 17) - 1);
        int s = (int)std::lround(std::log2(m * acc_spread)) - (out_bits - 2) + (int)rand_int(-1, 1);
        r.m.push_back(m);
        r.shift.push_back(s < 1 ? 1 : (s > 62 ? 62 : s));
    }
    return r;
}

// Load a dense MH x MW matrix, biases and constants into the folded parameter arrays of the MVAU.
template <class C>
struct Params {
    typedef fa::mvau_dims<C> D;
    ap_uint<C::SIMD * C::W_BITS> w[C::PE][D::TILES];
    ap_int<C::ACC_BITS> bias[C::PE][D::NF];
    fa::mult_t m[C::PE][D::NF];
    fa::shift_t shift[C::PE][D::NF];
    Params(const std::vector<vec>& W, const vec& b, const Requant& rq) {
        for (unsigned p = 0; p < C::PE; p++)
            for (unsigned nf = 0; nf < D::NF; nf++) {
                const unsigned r = nf * C::PE + p;
                bias[p][nf] = b[r];
                m[p][nf] = rq.m[r];
                shift[p][nf] = rq.shift[r];
                for (unsigned sf = 0; sf < D::SF; sf++) {
                    ap_uint<C::SIMD * C::W_BITS> word = 0;
                    for (unsigned s = 0; s < C::SIMD; s++) fa::set_lane<C::W_BITS>(word, s, W[r][sf * C::SIMD + s]);
                    w[p][nf * D::SF + sf] = word;
                }
            }
    }
};

// Values that break a wrong packing: both ends of the range, their neighbours, -1, 0 and 1.
inline vec corner_values(int bits, bool sgn) {
    const int64_t lo = qmin(bits, sgn), hi = qmax(bits, sgn);
    vec v = {lo, lo + 1, hi - 1, hi, 0, 1};
    if (sgn) v.push_back(-1);
    return v;
}
// n values, each a corner value half of the time and uniform otherwise.
inline vec corner_vec(size_t n, int bits, bool sgn) {
    const vec c = corner_values(bits, sgn);
    vec v = rand_vec(n, qmin(bits, sgn), qmax(bits, sgn));
    for (auto& x : v)
        if (rand_int(0, 1)) x = c[rand_int(0, c.size() - 1)];
    return v;
}

template <class C>
std::vector<vec> rand_weights(bool corners = false) {
    const int64_t wmax = (int64_t(1) << (C::W_BITS - 1)) - 1;  // narrow symmetric range
    std::vector<vec> W(C::MH);
    for (auto& row : W) row = corners ? corner_vec(C::MW, C::W_BITS, true) : rand_vec(C::MW, -wmax, wmax);
    return W;
}

inline double spread(unsigned k, int in_bits, int w_bits) {
    return std::sqrt((double)k) * std::ldexp(1.0, in_bits - 1) * std::ldexp(1.0, w_bits - 1) / 2;
}

// Gemm: N_VECTORS rows of x (MW values) per image, y = requant(W x + b).
// corners: weights over the whole signed range (-2^(W_BITS-1) too) and activations often at their ends.
template <class C>
void run_gemm(Checker& chk, const char* name, int reps = 2, bool corners = false) {
    std::vector<vec> W = rand_weights<C>(corners);
    const double sp = spread(C::MW, C::IN_BITS, C::W_BITS);
    vec b = rand_vec(C::MH, -(int64_t)(2 * sp), (int64_t)(2 * sp));  // comparable to the products
    Requant rq = make_requant(C::MH, sp, C::OUT_BITS);
    static Params<C> prm(W, b, rq);
    hls::stream<ap_uint<C::SIMD * C::IN_BITS> > in("in");
    hls::stream<ap_uint<C::PE * C::OUT_BITS> > out("out");
    vec want;
    for (unsigned v = 0; v < C::N_VECTORS * reps; v++) {
        vec x = corners ? corner_vec(C::MW, C::IN_BITS, C::IN_SIGNED)
                        : rand_vec(C::MW, qmin(C::IN_BITS, C::IN_SIGNED), qmax(C::IN_BITS, C::IN_SIGNED));
        push_words<C::SIMD, C::IN_BITS>(in, x);
        for (unsigned r = 0; r < C::MH; r++) {
            int64_t acc = b[r];
            for (unsigned c = 0; c < C::MW; c++) acc += W[r][c] * x[c];
            want.push_back(ref_requant(acc, rq.m[r], rq.shift[r], C::OUT_ZP, C::OUT_LO, C::OUT_HI));
        }
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::mvau<C>(in, out, prm.w, prm.bias, prm.m, prm.shift, reps);
    chk.cycles(std::string(name) + " cycles = N_VECTORS*(MH/PE)*(MW/SIMD)", c0,
               (unsigned long long)C::N_VECTORS * (C::MH / C::PE) * (C::MW / C::SIMD) * reps +
                   fa::mvau_dims<C>::DRAIN);
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<C::PE, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

// Conv: sliding window + MVAU against a direct NHWC convolution in which padding is real zero,
// i.e. acc = bias + sum over in-image taps of w * (x - zp_in). The hardware instead multiplies the
// stored integers, pads with zp_in and starts from the folded bias bias - zp_in * sum(w).
template <class S, class C>
void run_conv(Checker& chk, const char* name, int reps = 2) {
    typedef fa::window_dims<S> D;
    static_assert(C::MW == S::KH * S::KW * S::C && C::N_VECTORS == D::OH * D::OW && C::SIMD == S::SIMD, "cfg");
    const int zp_in = S::PAD_VALUE;
    std::vector<vec> W = rand_weights<C>();  // W[oc][(ky*KW + kx)*C + c]
    const double sp = spread(C::MW, C::IN_BITS, C::W_BITS);
    vec b = rand_vec(C::MH, -(int64_t)(2 * sp), (int64_t)(2 * sp)), folded(C::MH);
    for (unsigned r = 0; r < C::MH; r++) {
        int64_t sum = 0;
        for (int64_t w : W[r]) sum += w;
        folded[r] = b[r] - zp_in * sum;
    }
    Requant rq = make_requant(C::MH, sp, C::OUT_BITS);
    static Params<C> prm(W, folded, rq);
    hls::stream<ap_uint<S::SIMD * S::BITS> > in("in"), win("win");
    hls::stream<ap_uint<C::PE * C::OUT_BITS> > out("out");
    vec want;
    for (int rep = 0; rep < reps; rep++) {
        vec x = rand_vec((size_t)S::IH * S::IW * S::C, qmin(S::BITS, C::IN_SIGNED), qmax(S::BITS, C::IN_SIGNED));
        push_words<S::SIMD, S::BITS>(in, x);
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
                    want.push_back(ref_requant(acc, rq.m[oc], rq.shift[oc], C::OUT_ZP, C::OUT_LO, C::OUT_HI));
                }
    }
    fa::sliding_window<S>(in, win, reps);
    const unsigned long long c0 = fa::sim::cycles();
    fa::mvau<C>(win, out, prm.w, prm.bias, prm.m, prm.shift, reps);
    chk.cycles(std::string(name) + " cycles = OH*OW*(MH/PE)*(MW/SIMD)", c0,
               (unsigned long long)D::OH * D::OW * (C::MH / C::PE) * (C::MW / C::SIMD) * reps +
                   fa::mvau_dims<C>::DRAIN);
    chk.ok(std::string(name) + " consumes all input", in.empty() && win.empty());
    chk.same(name, pop_words<C::PE, C::OUT_BITS, (C::OUT_LO < 0)>(out), want);
}

template <int IH_, int IW_, int C_, int K_, int S_, int DIL, int PT, int PL, int PB, int PR, int SIMD_, int BITS_,
          int ZP>
struct SwCfg {
    static const int IH = IH_, IW = IW_, C = C_, KH = K_, KW = K_, SH = S_, SW = S_, DH = DIL, DW = DIL;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, SIMD = SIMD_, BITS = BITS_, PAD_VALUE = ZP;
    static const bool DEPTHWISE = false;
};

// fa::packed_mul against the two plain products for weights w_lo, w_hi and activation x.
template <int WB, int IB, bool IS>
bool packed_ok(int64_t w_lo, int64_t w_hi, int64_t x) {
    ap_int<WB + IB> lo, hi;
    fa::packed_mul<WB, IB, IS, WB + IB>(ap_int<WB>(w_lo), ap_int<WB>(w_hi), typename fa::qint<IB, IS>::type(x), lo, hi);
    return lo.to_int64() == w_lo * x && hi.to_int64() == w_hi * x;
}

// Every (w_lo, w_hi, x) of int8 weights and int8 or uint8 activations: 2 x 2^24 packed multiplies.
template <bool IS>
void run_packed_exhaustive_int8(Checker& chk) {
    long long bad = 0;
    int64_t first[3] = {0, 0, 0};
    for (int64_t a = -128; a < 128; a++)
        for (int64_t b = -128; b < 128; b++)
            for (int64_t x = qmin(8, IS); x <= qmax(8, IS); x++)
                if (!packed_ok<8, 8, IS>(a, b, x) && bad++ == 0) first[0] = a, first[1] = b, first[2] = x;
    chk.ok(std::string("packed multiply, every int8 x ") + (IS ? "int8" : "uint8") + " triple", bad == 0,
           std::to_string(bad) + " wrong, first w_lo=" + std::to_string(first[0]) +
               " w_hi=" + std::to_string(first[1]) + " x=" + std::to_string(first[2]));
}

// Other widths the cost model admits: every triple of corner values, then random triples.
template <int WB, int IB, bool IS>
void run_packed_corners(Checker& chk) {
    const vec cw = corner_values(WB, true), cx = corner_values(IB, IS);
    long long bad = 0;
    for (int64_t a : cw)
        for (int64_t b : cw)
            for (int64_t x : cx) bad += !packed_ok<WB, IB, IS>(a, b, x);
    std::mt19937_64 g(WB * 100 + IB);  // its own generator: the shared one must replay the same MVAU data per path
    std::uniform_int_distribution<int64_t> w(qmin(WB, true), qmax(WB, true)), x(qmin(IB, IS), qmax(IB, IS));
    for (int i = 0; i < 20000; i++) {
        const int64_t a = w(g), b = w(g);
        bad += !packed_ok<WB, IB, IS>(a, b, x(g));
    }
    chk.ok("packed multiply w" + std::to_string(WB) + (IS ? " x int" : " x uint") + std::to_string(IB), bad == 0,
           std::to_string(bad) + " wrong");
}

// fa::mvau_dot of a grouped config against the plain dot products, with each PE's lanes all at one
// weight and x's lanes all at one activation (every corner combination: the groups' extreme sums), then
// random corner vectors.
template <class C>
void run_group_sums(Checker& chk, const char* name) {
    const vec cw = corner_values(C::W_BITS, true), cx = corner_values(C::IN_BITS, C::IN_SIGNED);
    long long bad = 0, n = 0;
    auto check = [&](const std::vector<vec>& w, const vec& x) {
        ap_uint<C::SIMD * C::W_BITS> words[C::PE];
        ap_uint<C::SIMD * C::IN_BITS> xw = 0;
        for (unsigned s = 0; s < C::SIMD; s++) fa::set_lane<C::IN_BITS>(xw, s, x[s]);
        for (unsigned p = 0; p < C::PE; p++) {
            words[p] = 0;
            for (unsigned s = 0; s < C::SIMD; s++) fa::set_lane<C::W_BITS>(words[p], s, w[p][s]);
        }
        ap_int<C::ACC_BITS> sum[C::PE];
        fa::mvau_dot<C>(words, xw, sum);
        for (unsigned p = 0; p < C::PE; p++) {
            int64_t want = 0;
            for (unsigned s = 0; s < C::SIMD; s++) want += w[p][s] * x[s];
            bad += sum[p].to_int64() != want;
            n++;
        }
    };
    for (int64_t a : cw)
        for (int64_t b : cw)
            for (int64_t v : cx) {
                std::vector<vec> w(C::PE);
                for (unsigned p = 0; p < C::PE; p++) w[p] = vec(C::SIMD, p % 2 ? b : a);
                check(w, vec(C::SIMD, v));
            }
    std::mt19937_64 g(C::PACK_GROUP * 1000 + C::SIMD);
    for (int i = 0; i < 2000; i++) {
        std::vector<vec> w(C::PE);
        for (auto& row : w) {
            row = vec(C::SIMD);
            for (auto& e : row) e = cw[g() % cw.size()];
        }
        vec x(C::SIMD);
        for (auto& e : x) e = cx[g() % cx.size()];
        check(w, x);
    }
    chk.ok(std::string("grouped packed sums ") + name, bad == 0, std::to_string(bad) + " of " + std::to_string(n) +
                                                                    " wrong");
}

static void run_packed(Checker& chk) {
    if (fa::sim::fast_paths()) {  // the multiply itself has one code path: check it once
        run_packed_exhaustive_int8<true>(chk);
        run_packed_exhaustive_int8<false>(chk);
        run_packed_corners<8, 8, true>(chk);   // 25 bits: DSP48E1 and DSP48E2
        run_packed_corners<8, 10, false>(chk); // 28 bits: wider than either port, exact all the same
        run_packed_corners<9, 8, true>(chk);   // 27 bits: DSP48E2
        run_packed_corners<6, 12, true>(chk);
        run_packed_corners<4, 16, false>(chk);
        run_packed_corners<2, 2, true>(chk);
        run_packed_corners<16, 16, true>(chk);
        // the groups pe/cost.py:pack_group gives a 27-bit port: int8 x uint8 4 at K = 18, int8 x int8 7 at 18
        //                      MW MH SIMD PE NV IB IS  WB AB  OB ZP LO HI PACK       G  K
        run_group_sums<Grouped<MvCfg<8, 2, 8, 2, 1, 8, false, 8, 36, 8, 0, 0, 255, 2>, 4, 18> >(chk, "int8 x uint8 G4");
        run_group_sums<Grouped<MvCfg<7, 2, 7, 2, 1, 8, true, 8, 36, 8, 0, -128, 127, 2>, 7, 18> >(chk, "int8 x int8 G7");
        run_group_sums<Grouped<MvCfg<6, 3, 6, 3, 1, 8, false, 8, 36, 8, 0, 0, 255, 2>, 4, 18> >(chk,
                                                                                           "uint8 G4 short group, odd PE");
        run_group_sums<Grouped<MvCfg<6, 4, 6, 4, 1, 6, true, 9, 36, 8, 0, 0, 255, 2>, 3, 17> >(chk, "w9 x int6 G3");
    }
    // Whole MVAUs on extreme weights and activations: packed (even and odd PE), LUT and plain
    // multipliers, each against the int64 reference; with the fast path off the packed loop runs.
    // Each config is a distinct type: run_gemm keeps its arrays in a static.
    //            MW  MH SIMD PE NV IB  IS    WB AB OB  ZP    LO    HI PACK FABRIC
    run_gemm<MvCfg<16, 8, 4, 2, 3, 8, true, 8, 37, 8, -3, -128, 127, 2> >(chk, "gemm int8 packed PE2", 2, true);
    run_gemm<MvCfg<16, 8, 4, 2, 3, 8, true, 8, 37, 8, -2, -128, 127, 1> >(chk, "gemm int8 plain PE2", 2, true);
    run_gemm<MvCfg<16, 8, 4, 2, 3, 8, true, 8, 37, 8, -3, -128, 127, 1, true> >(chk, "gemm int8 fabric PE2", 2, true);
    run_gemm<MvCfg<18, 9, 6, 3, 2, 8, false, 8, 37, 8, 5, 0, 255, 2> >(chk, "gemm uint8 packed odd PE3", 2, true);
    run_gemm<MvCfg<12, 8, 2, 8, 2, 8, false, 8, 36, 8, 0, 0, 255, 2> >(chk, "gemm uint8 packed PE8", 2, true);
    run_gemm<MvCfg<10, 4, 5, 4, 2, 6, true, 9, 36, 8, 0, -128, 127, 2> >(chk, "gemm w9 x int6 packed", 2, true);
    run_gemm<MvCfg<8, 6, 4, 6, 2, 16, true, 16, 46, 16, 0, -32768, 32767, 2> >(chk, "gemm int16 packed", 2, true);
    // packed products summed in groups: a whole group, a short last group, an odd PE, shared requantisers
    run_gemm<Grouped<MvCfg<32, 8, 8, 4, 3, 8, false, 8, 38, 8, 5, 0, 255, 2>, 4, 18> >(chk, "gemm uint8 G4", 2, true);
    run_gemm<Grouped<MvCfg<36, 6, 6, 3, 2, 8, false, 8, 38, 8, 5, 0, 255, 2>, 4, 18> >(chk, "gemm uint8 G4 odd PE3", 2,
                                                                                     true);
    run_gemm<Grouped<MvCfg<28, 4, 14, 2, 2, 8, true, 8, 38, 8, -3, -128, 127, 2>, 7, 18> >(chk, "gemm int8 G7", 2, true);
    run_gemm<WithRq<Grouped<MvCfg<32, 8, 8, 4, 3, 8, false, 8, 38, 8, 5, 0, 255, 2>, 4, 18>, 1> >(
        chk, "gemm uint8 G4 RQ1", 2, true);
    run_conv<SwCfg<5, 5, 4, 3, 1, 1, 1, 1, 1, 1, 4, 8, 131>,
             Grouped<MvCfg<36, 8, 4, 4, 25, 8, false, 8, 37, 8, 0, 0, 255, 2>, 4, 18> >(chk, "conv 3x3 packed G4");
}

static void run_all(Checker& chk) {
    run_packed(chk);
    //            MW  MH SIMD PE NV IB  IS    WB AB OB  ZP    LO     HI
    run_gemm<MvCfg<16, 8, 4, 2, 3, 8, true, 8, 37, 8, -3, -128, 127> >(chk, "gemm 16x8 PE2 SIMD4 int8");
    run_gemm<MvCfg<12, 6, 12, 6, 2, 4, false, 4, 34, 4, 0, 0, 15> >(chk, "gemm 12x6 unfolded uint4 relu");
    run_gemm<MvCfg<10, 5, 1, 1, 2, 16, true, 16, 40, 16, 100, -32768, 32767> >(chk, "gemm 10x5 PE1 SIMD1 int16");
    run_gemm<MvCfg<9, 4, 3, 4, 4, 2, true, 2, 34, 2, 0, -2, 1> >(chk, "gemm 9x4 int2");
    run_gemm<MvCfg<24, 12, 6, 3, 1, 8, false, 3, 34, 6, 7, 7, 50> >(chk, "gemm 24x12 uint8 w3 clip");
    //                  IH IW C  K  S  D PT PL PB PR SIMD BITS ZP        MW  MH SIMD PE NV  IB  IS  WB AB OB ZP LO HI
    run_conv<SwCfg<5, 5, 4, 3, 1, 1, 1, 1, 1, 1, 2, 8, 131>, MvCfg<36, 8, 2, 4, 25, 8, false, 8, 37, 8, 0, 0, 255> >(
        chk, "conv 3x3 s1 p1 uint8 zp131");
    run_conv<SwCfg<5, 5, 4, 3, 1, 1, 1, 1, 1, 1, 2, 8, 131>, MvCfg<36, 8, 2, 4, 25, 8, false, 8, 37, 8, 0, 0, 255, 2> >(
        chk, "conv 3x3 s1 p1 uint8 zp131 packed");
    run_conv<SwCfg<7, 6, 3, 3, 2, 1, 1, 1, 0, 0, 3, 8, -5>, MvCfg<27, 6, 3, 3, 9, 8, true, 8, 37, 8, -9, -128, 127, 2> >(
        chk, "conv 3x3 s2 int8 packed odd PE3");
    run_conv<SwCfg<7, 6, 3, 3, 2, 1, 1, 1, 0, 0, 3, 8, -5>, MvCfg<27, 6, 3, 2, 9, 8, true, 8, 37, 8, -9, -128, 127> >(
        chk, "conv 3x3 s2 asym-pad int8");
    run_conv<SwCfg<9, 9, 2, 5, 1, 2, 2, 2, 2, 2, 1, 4, -2>, MvCfg<50, 3, 1, 3, 25, 4, true, 4, 35, 4, 1, -8, 7> >(
        chk, "conv 5x5 d2 int4");
    run_conv<SwCfg<6, 6, 8, 1, 2, 1, 0, 0, 0, 0, 8, 6, 20>, MvCfg<8, 16, 8, 4, 9, 6, false, 5, 34, 6, 3, 0, 63> >(
        chk, "conv 1x1 s2 uint6");
    run_conv<SwCfg<6, 5, 4, 3, 1, 1, 1, 1, 1, 1, 4, 12, -700>, MvCfg<36, 4, 4, 2, 30, 12, true, 10, 40, 12, 0, -2048, 2047> >(
        chk, "conv 3x3 int12 w10");
    // time-shared requantisers: STEPS below SF, equal to SF, with spare slots, packed and in LUTs
    run_gemm<WithRq<MvCfg<16, 8, 4, 2, 3, 8, true, 8, 37, 8, -3, -128, 127>, 1> >(chk, "gemm PE2 SF4 RQ1", 2, true);
    run_gemm<WithRq<MvCfg<18, 9, 6, 3, 2, 8, false, 8, 37, 8, 5, 0, 255, 2>, 1> >(chk, "gemm PE3 SF3 RQ1 (3 = SF steps)",
                                                                                 2, true);
    run_gemm<WithRq<MvCfg<24, 10, 4, 5, 2, 8, true, 8, 37, 8, 1, -128, 127, 2>, 2> >(chk, "gemm PE5 SF6 RQ2 (1 spare)", 2,
                                                                                   true);
    run_gemm<WithRq<MvCfg<16, 8, 4, 2, 3, 8, true, 8, 37, 8, -3, -128, 127, 1, true>, 1> >(chk, "gemm fabric RQ1", 2,
                                                                                         true);
    run_conv<SwCfg<5, 5, 4, 3, 1, 1, 1, 1, 1, 1, 2, 8, 131>,
             WithRq<MvCfg<36, 8, 2, 4, 25, 8, false, 8, 37, 8, 0, 0, 255, 2>, 1> >(chk, "conv 3x3 packed PE4 SF18 RQ1");
    run_conv<SwCfg<7, 6, 3, 3, 2, 1, 1, 1, 0, 0, 3, 8, -5>,
             WithRq<MvCfg<27, 6, 3, 3, 9, 8, true, 8, 37, 8, -9, -128, 127, 2>, 1> >(chk, "conv 3x3 s2 PE3 SF9 RQ1");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_mvau", run_all);
}
