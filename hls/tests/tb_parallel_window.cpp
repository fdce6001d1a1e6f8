// Testbench for fpga_accel/parallel_window.h: at every KP dividing KH*KW and PX in {1, 2, 4} where
// it divides the input and output widths, the output words equal a direct im2col in MVAU order (KP
// positions x C channels per pixel, PX adjacent pixels per word) with zero-point padding, over the
// geometries of tb_sliding_window.cpp (kernel sizes, strides, dilations, asymmetric pads, unused
// rows, 1D), images back to back (the next image's first rows read ahead), and the loop iterations
// equal the documented schedule.
#include "fpga_accel/parallel_window.h"
#include "tb_common.h"

#include <algorithm>

template <int IH_, int IW_, int C_, int KH_, int KW_, int SH_, int SW_, int DH_, int DW_, int PT, int PL, int PB,
          int PR, int BITS_, int PADV>
struct Geo {
    static const int IH = IH_, IW = IW_, C = C_, KH = KH_, KW = KW_, SH = SH_, SW = SW_, DH = DH_, DW = DW_;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, BITS = BITS_;
    static const int PAD_VALUE = PADV;
    static const bool DEPTHWISE = false;
};

template <class G, int KP_, int PX_ = 1> struct Cfg : G {
    static const int SIMD = KP_ * G::C, PX = PX_;
};

template <class C> constexpr int out_width() {
    return (C::IW + C::PAD_L + C::PAD_R - (C::DW * (C::KW - 1) + 1)) / C::SW + 1;
}

// Direct im2col of one NHWC image, regrouped into the PX-pixel words: per output row, per group of
// PX pixels, per word j, per pixel x, the KP positions j*KP .. of that pixel (c fastest).
template <class C>
vec reference(const vec& x) {
    const int span_h = C::DH * (C::KH - 1) + 1;
    const int oh = (C::IH + C::PAD_T + C::PAD_B - span_h) / C::SH + 1, ow = out_width<C>();
    const int kp = C::SIMD / C::C, nw = C::KH * C::KW / kp;
    vec out;
    for (int oy = 0; oy < oh; oy++)
        for (int g = 0; g < ow / C::PX; g++)
            for (int j = 0; j < nw; j++)
                for (int px = 0; px < C::PX; px++)
                    for (int t = j * kp; t < (j + 1) * kp; t++)
                        for (int c = 0; c < C::C; c++) {
                            const int ky = t / C::KW, kx = t % C::KW, ox = g * C::PX + px;
                            const int iy = oy * C::SH - C::PAD_T + ky * C::DH, ix = ox * C::SW - C::PAD_L + kx * C::DW;
                            const bool inside = iy >= 0 && iy < C::IH && ix >= 0 && ix < C::IW;
                            out.push_back(inside ? x[((int64_t)iy * C::IW + ix) * C::C + c] : C::PAD_VALUE);
                        }
    return out;
}

// The documented schedule, image by image: a prologue of the rows output row 0 needs that were not
// read ahead, then per output row max(OW/PX*NW, rows read * IW/PX); a row reads what the next output row
// needs and up to SH rows ahead, within the ring (the rows from its first used row, SPAN_H + SH of
// them) and, when another image follows, up to that image's LAST(0).
template <class C>
unsigned long long formula_cycles(int reps) {
    const int span_h = C::DH * (C::KH - 1) + 1, span_w = C::DW * (C::KW - 1) + 1;
    const int oh = (C::IH + C::PAD_T + C::PAD_B - span_h) / C::SH + 1;
    const int ow = (C::IW + C::PAD_L + C::PAD_R - span_w) / C::SW + 1;
    const int nw = C::KH * C::KW * C::C / C::SIMD, lb_rows = span_h + C::SH, wpr = C::IW / C::PX;
    auto last = [&](int oy) { return std::min(C::IH - 1, oy * C::SH - C::PAD_T + span_h - 1); };
    unsigned long long n = 0;
    int read = 0;  // rows of the current image read so far
    for (int r = 0; r < reps; r++) {
        const bool more = r + 1 < reps;
        n += (unsigned long long)std::max(0, last(0) + 1 - read) * wpr;
        read = std::max(read, last(0) + 1);
        for (int oy = 0; oy < oh; oy++) {
            const int need = oy + 1 < oh ? last(oy + 1) : C::IH - 1;
            const int cap = std::max(0, oy * C::SH - C::PAD_T) + lb_rows - 1;
            const int limit = more ? C::IH + last(0) : C::IH - 1;
            const int target = std::max(need, std::min({read - 1 + C::SH, cap, limit}));
            n += std::max(ow / C::PX * nw, (target + 1 - read) * wpr);
            read = target + 1;
        }
        read -= C::IH;
    }
    return n;
}

template <class C, bool SGN>
void run(Checker& chk, const std::string& name, int reps) {
    hls::stream<ap_uint<C::PX * C::C * C::BITS> > in("in");
    hls::stream<ap_uint<C::PX * C::SIMD * C::BITS> > out("out");
    vec want;
    for (int r = 0; r < reps; r++) {
        vec x = rand_vec((size_t)C::IH * C::IW * C::C, qmin(C::BITS, SGN), qmax(C::BITS, SGN));
        push_words<C::PX * C::C, C::BITS>(in, x);
        vec w = reference<C>(x);
        want.insert(want.end(), w.begin(), w.end());
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::parallel_window<C>(in, out, reps);
    chk.cycles(name + " cycles", c0, formula_cycles<C>(reps));
    chk.ok(name + " consumes all input", in.empty());
    chk.same(name, pop_words<C::PX * C::SIMD, C::BITS, SGN>(out), want);
}

// Every KP from KP0 to KH*KW that divides KH*KW, at PX = 1, 2 and 4 where PX divides IW and OW.
template <class G, bool SGN, int KP = 1>
void every_kp(Checker& chk, const char* name, int reps = 2) {
    if constexpr (KP <= G::KH * G::KW) {
        if constexpr ((G::KH * G::KW) % KP == 0) {
            const std::string kp = std::string(name) + " KP=" + std::to_string(KP);
            run<Cfg<G, KP, 1>, SGN>(chk, kp, reps);
            if constexpr (G::IW % 2 == 0 && out_width<Cfg<G, KP, 2> >() % 2 == 0)
                run<Cfg<G, KP, 2>, SGN>(chk, kp + " PX=2", reps);
            if constexpr (G::IW % 4 == 0 && out_width<Cfg<G, KP, 4> >() % 4 == 0)
                run<Cfg<G, KP, 4>, SGN>(chk, kp + " PX=4", reps);
        }
        every_kp<G, SGN, KP + 1>(chk, name, reps);
    }
}

static void run_all(Checker& chk) {
    //                IH  IW  C KH KW SH SW DH DW PT PL PB PR BITS  PADV
    every_kp<Geo<6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, -3>, true>(chk, "3x3 s1 p1 int8 zp-3", 4);
    every_kp<Geo<7, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 8, 7>, true>(chk, "3x3 s2 asym-pad", 3);
    every_kp<Geo<9, 10, 2, 5, 5, 1, 1, 2, 2, 2, 2, 2, 2, 4, 5>, false>(chk, "5x5 d2 p2 uint4");
    every_kp<Geo<7, 7, 8, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 6, 0>, true>(chk, "1x1 s2 (rows skipped)");
    every_kp<Geo<8, 6, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 16, -32768>, true>(chk, "2x2 s2 int16");
    every_kp<Geo<7, 5, 6, 3, 1, 2, 1, 1, 1, 1, 0, 1, 0, 5, 2>, false>(chk, "3x1 s(2,1)");
    every_kp<Geo<10, 10, 2, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 8, 0>, false>(chk, "3x3 s3 unused bottom rows");
    every_kp<Geo<11, 9, 2, 2, 2, 4, 3, 1, 1, 0, 1, 0, 1, 3, 1>, true>(chk, "2x2 s4 gap rows int3");
    every_kp<Geo<5, 5, 4, 3, 3, 1, 1, 2, 1, 1, 1, 1, 1, 2, -1>, true>(chk, "3x3 dil(2,1) int2");
    every_kp<Geo<6, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8, 128>, false>(chk, "3x3 C16 uint8", 3);
    every_kp<Geo<4, 4, 2, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0, 8, 0>, true>(chk, "window = image");
    every_kp<Geo<12, 12, 1, 5, 5, 2, 2, 1, 1, 2, 2, 1, 1, 8, -128>, true>(chk, "5x5 s2 C1 stem");
    every_kp<Geo<1, 16, 3, 1, 5, 1, 2, 1, 3, 0, 4, 0, 4, 8, 9>, true>(chk, "1D k5 s2 d3 p4");
    every_kp<Geo<1, 12, 2, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 7, -2>, true>(chk, "1D k3 p1");
    // widths that 4 divides, for PX = 4: a stride-2 stem, a 5x5 pad 2 (groups start mid-word), dilation
    every_kp<Geo<6, 16, 3, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 8, -5>, true>(chk, "3x3 s2 stem W16", 3);
    every_kp<Geo<7, 8, 2, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 8, 3>, false>(chk, "5x5 p2 W8");
    every_kp<Geo<8, 12, 1, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 8, 0>, true>(chk, "3x3 d2 p2 W12 C1");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_parallel_window", run_all);
}
