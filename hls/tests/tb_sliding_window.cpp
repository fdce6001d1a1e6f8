// Testbench for fpga_accel/sliding_window.h: the window stream equals a direct im2col with zero-point
// padding, in both window orders, over kernel sizes, strides, dilations, pads, widths and reps
// (images back to back, the next image's first rows read ahead), in the documented iterations.
#include "fpga_accel/sliding_window.h"
#include "tb_common.h"

#include <algorithm>

template <int IH_, int IW_, int C_, int KH_, int KW_, int SH_, int SW_, int DH_, int DW_, int PT, int PL, int PB,
          int PR, int SIMD_, int BITS_, int PADV, bool DWISE>
struct Cfg {
    static const int IH = IH_, IW = IW_, C = C_, KH = KH_, KW = KW_, SH = SH_, SW = SW_, DH = DH_, DW = DW_;
    static const int PAD_T = PT, PAD_L = PL, PAD_B = PB, PAD_R = PR, SIMD = SIMD_, BITS = BITS_;
    static const int PAD_VALUE = PADV;
    static const bool DEPTHWISE = DWISE;
};

// Direct im2col of one NHWC image, in the order the generator documents.
template <class C>
vec reference(const vec& x) {
    const int span_h = C::DH * (C::KH - 1) + 1, span_w = C::DW * (C::KW - 1) + 1;
    const int oh = (C::IH + C::PAD_T + C::PAD_B - span_h) / C::SH + 1;
    const int ow = (C::IW + C::PAD_L + C::PAD_R - span_w) / C::SW + 1;
    vec out;
    auto at = [&](int iy, int ix, int c) -> int64_t {
        if (iy < 0 || iy >= C::IH || ix < 0 || ix >= C::IW) return C::PAD_VALUE;
        return x[((int64_t)iy * C::IW + ix) * C::C + c];
    };
    for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++) {
            const int y0 = oy * C::SH - C::PAD_T, x0 = ox * C::SW - C::PAD_L;
            if (!C::DEPTHWISE) {
                for (int ky = 0; ky < C::KH; ky++)
                    for (int kx = 0; kx < C::KW; kx++)
                        for (int c = 0; c < C::C; c++) out.push_back(at(y0 + ky * C::DH, x0 + kx * C::DW, c));
            } else {
                for (int cf = 0; cf < C::C / C::SIMD; cf++)
                    for (int ky = 0; ky < C::KH; ky++)
                        for (int kx = 0; kx < C::KW; kx++)
                            for (int s = 0; s < C::SIMD; s++)
                                out.push_back(at(y0 + ky * C::DH, x0 + kx * C::DW, cf * C::SIMD + s));
            }
        }
    return out;
}

// The documented schedule, image by image: a prologue of the rows output row 0 needs that were not
// read ahead, then per output row max(OW*KH*KW*CF, rows read * IW*CF); a row reads what the next
// output row needs and up to SH rows ahead, within the ring (the rows from its first used row,
// SPAN_H + SH of them) and, when another image follows, up to that image's LAST(0).
template <class C>
unsigned long long formula_cycles(int reps) {
    const int span_h = C::DH * (C::KH - 1) + 1, span_w = C::DW * (C::KW - 1) + 1, cf = C::C / C::SIMD;
    const int oh = (C::IH + C::PAD_T + C::PAD_B - span_h) / C::SH + 1;
    const int ow = (C::IW + C::PAD_L + C::PAD_R - span_w) / C::SW + 1;
    const int lb_rows = span_h + C::SH, row = C::IW * cf;
    auto last = [&](int oy) { return std::min(C::IH - 1, oy * C::SH - C::PAD_T + span_h - 1); };
    unsigned long long n = 0;
    int read = 0;  // rows of the current image read so far
    for (int r = 0; r < reps; r++) {
        const bool more = r + 1 < reps;
        n += (unsigned long long)std::max(0, last(0) + 1 - read) * row;
        read = std::max(read, last(0) + 1);
        for (int oy = 0; oy < oh; oy++) {
            const int need = oy + 1 < oh ? last(oy + 1) : C::IH - 1;
            const int cap = std::max(0, oy * C::SH - C::PAD_T) + lb_rows - 1;
            const int limit = more ? C::IH + last(0) : C::IH - 1;
            const int target = std::max(need, std::min({read - 1 + C::SH, cap, limit}));
            n += std::max(ow * C::KH * C::KW * cf, (target + 1 - read) * row);
            read = target + 1;
        }
        read -= C::IH;
    }
    return n;
}

template <class C, bool SGN>
void run(Checker& chk, const char* name, int reps = 2) {
    hls::stream<ap_uint<C::SIMD * C::BITS> > in("in"), out("out");
    vec want;
    for (int r = 0; r < reps; r++) {
        vec x = rand_vec((size_t)C::IH * C::IW * C::C, qmin(C::BITS, SGN), qmax(C::BITS, SGN));
        push_words<C::SIMD, C::BITS>(in, x);
        vec w = reference<C>(x);
        want.insert(want.end(), w.begin(), w.end());
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::sliding_window<C>(in, out, reps);
    chk.cycles(std::string(name) + " cycles", c0, formula_cycles<C>(reps));
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<C::SIMD, C::BITS, SGN>(out), want);
}

static void run_all(Checker& chk) {
    //              IH IW  C KH KW SH SW DH DW PT PL PB PR SIMD BITS PADV  DWISE
    run<Cfg<6, 6, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2, 8, -3, false>, true>(chk, "3x3 s1 p1 int8 zp-3", 3);
    run<Cfg<7, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 3, 8, 7, false>, true>(chk, "3x3 s2 asym-pad", 4);
    run<Cfg<9, 10, 2, 5, 5, 1, 1, 2, 2, 2, 2, 2, 2, 1, 4, 5, false>, false>(chk, "5x5 d2 p2 uint4");
    run<Cfg<7, 7, 8, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 4, 6, 0, false>, true>(chk, "1x1 s2 (rows skipped)");
    run<Cfg<8, 6, 4, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 2, 16, -32768, true>, true>(chk, "2x2 s2 pool int16");
    run<Cfg<7, 5, 6, 3, 1, 2, 1, 1, 1, 1, 0, 1, 0, 3, 5, 2, true>, false>(chk, "3x1 s(2,1) depthwise");
    run<Cfg<10, 10, 2, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 2, 8, 0, false>, false>(chk, "3x3 s3 unused bottom rows");
    run<Cfg<11, 9, 2, 2, 2, 4, 3, 1, 1, 0, 1, 0, 1, 1, 3, 1, false>, true>(chk, "2x2 s4 gap rows int3");
    run<Cfg<5, 5, 4, 3, 3, 1, 1, 2, 1, 1, 1, 1, 1, 4, 2, -1, true>, true>(chk, "3x3 dil(2,1) int2 depthwise");
    run<Cfg<6, 6, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16, 8, 128, false>, false>(chk, "3x3 full SIMD uint8", 3);
    run<Cfg<4, 4, 2, 4, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 8, 0, false>, true>(chk, "window = image");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_sliding_window", run_all);
}
