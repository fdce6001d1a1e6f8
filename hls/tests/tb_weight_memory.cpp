// Testbench for fpga_accel/weight_memory.h: packed weight memories read back every memory's word at
// every tile (read() and at()) for several packings (memories side by side, tiles per word, a last
// word only partly filled), and whole MVAUs and depthwise PEs with packed weights against int64
// references on both simulation paths.
#include "fpga_accel/depthwise.h"
#include "fpga_accel/mvau.h"
#include "fpga_accel/weight_memory.h"
#include "tb_common.h"

// Lay out MEMS memories of TILES random WW-bit words as the header's comment says, independently of
// its code: word a of bank b, slot (r*P + j) holds memory b*P + j at tile a*R + r.
template <unsigned MEMS, unsigned WW, unsigned TILES, unsigned P, unsigned R>
void check_layout(Checker& chk, const char* name) {
    typedef fa::weight_memory<MEMS, WW, TILES, P, R> M;
    static typename M::word_t mem[M::BANKS][M::DEPTH];
    std::vector<vec> want(MEMS, vec(TILES));
    for (unsigned b = 0; b < M::BANKS; b++)
        for (unsigned a = 0; a < M::DEPTH; a++) mem[b][a] = 0;
    for (unsigned m = 0; m < MEMS; m++)
        for (unsigned t = 0; t < TILES; t++) {
            want[m][t] = rand_int(0, (int64_t(1) << (WW < 40 ? WW : 40)) - 1);
            fa::set_lane<WW>(mem[m / P][t / R], (t % R) * P + m % P, want[m][t]);
        }
    vec got_read, got_at, flat;
    typename M::elem_t words[MEMS];
    for (unsigned t = 0; t < TILES; t++) {
        M::read(mem, t, words);
        for (unsigned m = 0; m < MEMS; m++) {
            got_read.push_back((int64_t)words[m].to_uint64());
            got_at.push_back((int64_t)M::at(mem, m, t).to_uint64());
            flat.push_back(want[m][t]);
        }
    }
    chk.same(std::string(name) + " read()", got_read, flat);
    chk.same(std::string(name) + " at()", got_at, flat);
    chk.ok(std::string(name) + " shape", M::DEPTH == (TILES + R - 1) / R && M::WORD == R * P * WW);
}

template <int MW_, int MH_, int SIMD_, int PE_, int WM_PES_, int WM_SLOTS_>
struct PackedMv {
    static const unsigned MW = MW_, MH = MH_, SIMD = SIMD_, PE = PE_, N_VECTORS = 3;
    static const int IN_BITS = 8, W_BITS = 8, ACC_BITS = 24, OUT_BITS = 8, OUT_ZP = 0, OUT_LO = -128, OUT_HI = 127;
    static const bool IN_SIGNED = true, MUL_FABRIC = false;
    static const int PACK = 1, PACK_SHIFT = 0;
    static const int WM_PES = WM_PES_, WM_SLOTS = WM_SLOTS_;
};

// An MVAU whose PE memories are packed: y = requant(W x + b) for every vector.
template <class C>
void run_packed_mvau(Checker& chk, const char* name) {
    typedef fa::mvau_dims<C> D;
    typedef fa::mvau_wm<C, D::TILES> M;
    static typename M::word_t w[M::BANKS][M::DEPTH];
    static ap_int<C::ACC_BITS> bias[C::PE][D::NF];
    static fa::mult_t mm[C::PE][D::NF];
    static fa::shift_t ss[C::PE][D::NF];
    std::vector<vec> W(C::MH);
    for (auto& row : W) row = rand_vec(C::MW, -128, 127);
    vec b = rand_vec(C::MH, -5000, 5000), m = rand_vec(C::MH, 1 << 16, (1 << 17) - 1), sh = rand_vec(C::MH, 20, 26);
    for (unsigned bk = 0; bk < M::BANKS; bk++)
        for (unsigned a = 0; a < M::DEPTH; a++) w[bk][a] = 0;
    for (unsigned r = 0; r < C::MH; r++) {
        const unsigned p = r % C::PE, nf = r / C::PE;
        bias[p][nf] = b[r];
        mm[p][nf] = m[r];
        ss[p][nf] = sh[r];
        for (unsigned c = 0; c < C::MW; c++) {  // lane s of memory p at tile nf*SF + sf
            const unsigned tile = nf * D::SF + c / C::SIMD, slot = (tile % C::WM_SLOTS) * C::WM_PES + p % C::WM_PES;
            fa::set_lane<C::W_BITS>(w[p / C::WM_PES][tile / C::WM_SLOTS], slot * C::SIMD + c % C::SIMD, W[r][c]);
        }
    }
    hls::stream<ap_uint<C::SIMD * C::IN_BITS> > in("in");
    hls::stream<ap_uint<C::PE * C::OUT_BITS> > out("out");
    vec want;
    for (unsigned v = 0; v < C::N_VECTORS * 2; v++) {
        vec x = rand_vec(C::MW, -128, 127);
        push_words<C::SIMD, C::IN_BITS>(in, x);
        for (unsigned r = 0; r < C::MH; r++) {
            int64_t acc = b[r];
            for (unsigned c = 0; c < C::MW; c++) acc += W[r][c] * x[c];
            want.push_back(ref_requant(acc, m[r], sh[r], C::OUT_ZP, C::OUT_LO, C::OUT_HI));
        }
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::mvau<C>(in, out, w, bias, mm, ss, 2);
    chk.cycles(std::string(name) + " cycles unchanged by packing", c0, (unsigned long long)C::N_VECTORS * D::TILES * 2);
    chk.same(name, pop_words<C::PE, C::OUT_BITS, true>(out), want);
}

struct PackedDw {
    static const unsigned C = 6, PE = 2, KP = 1, PX = 1, K = 9, N_VECTORS = 4, PACK = 1, PACK_SHIFT = 0;
    static const int IN_BITS = 8, W_BITS = 4, ACC_BITS = 20, OUT_BITS = 8, OUT_ZP = 3, OUT_LO = 0, OUT_HI = 255;
    static const bool IN_SIGNED = false;
    static const int WM_SLOTS = 4;  // 27 words of 8 bits in 7 words of 32
};

// A depthwise PE fed its windows directly: per pixel and channel group, K words of PE lanes.
void run_packed_depthwise(Checker& chk, const char* name) {
    typedef PackedDw C;
    typedef fa::depthwise_wm<C> M;
    static const unsigned CF = C::C / C::PE;
    static typename M::word_t w[1][M::DEPTH];
    static ap_int<C::ACC_BITS> bias[C::PE][CF];
    static fa::mult_t mm[C::PE][CF];
    static fa::shift_t ss[C::PE][CF];
    std::vector<vec> W(C::C);
    for (auto& row : W) row = rand_vec(C::K, -8, 7);
    vec b = rand_vec(C::C, -500, 500), m = rand_vec(C::C, 1 << 16, (1 << 17) - 1), sh = rand_vec(C::C, 18, 22);
    for (unsigned a = 0; a < M::DEPTH; a++) w[0][a] = 0;
    for (unsigned c = 0; c < C::C; c++) {
        bias[c % C::PE][c / C::PE] = b[c];
        mm[c % C::PE][c / C::PE] = m[c];
        ss[c % C::PE][c / C::PE] = sh[c];
        for (unsigned k = 0; k < C::K; k++) {
            const unsigned tile = c / C::PE * C::K + k;
            fa::set_lane<C::W_BITS>(w[0][tile / C::WM_SLOTS], (tile % C::WM_SLOTS) * C::PE + c % C::PE, W[c][k]);
        }
    }
    hls::stream<ap_uint<C::PE * C::IN_BITS> > in("in");
    hls::stream<ap_uint<C::PE * C::OUT_BITS> > out("out");
    vec want;
    for (unsigned v = 0; v < C::N_VECTORS; v++) {
        vec x = rand_vec((size_t)C::C * C::K, 0, 255);  // [cf][k][p], the window order
        push_words<C::PE, C::IN_BITS>(in, x);
        for (unsigned c = 0; c < C::C; c++) {
            int64_t acc = b[c];
            for (unsigned k = 0; k < C::K; k++) acc += W[c][k] * x[((size_t)(c / C::PE) * C::K + k) * C::PE + c % C::PE];
            want.push_back(ref_requant(acc, m[c], sh[c], C::OUT_ZP, C::OUT_LO, C::OUT_HI));
        }
    }
    const unsigned long long c0 = fa::sim::cycles();
    fa::depthwise<C>(in, out, w, bias, mm, ss, 1);
    chk.cycles(std::string(name) + " cycles unchanged by packing", c0, (unsigned long long)C::N_VECTORS * CF * C::K);
    chk.same(name, pop_words<C::PE, C::OUT_BITS, false>(out), want);
}

int main() {
    Checker chk;
    return chk.both_paths("tb_weight_memory", [](Checker& c) {
        check_layout<1, 8, 100, 1, 1>(c, "unpacked 100 x 8");
        check_layout<1, 8, 100, 1, 8>(c, "8 tiles per word, last word partial");
        check_layout<4, 9, 37, 4, 2>(c, "4 memories side by side, 2 tiles per word");
        check_layout<6, 24, 16, 3, 4>(c, "2 banks of 3 memories, 4 tiles per word");
        check_layout<2, 72, 3, 2, 4>(c, "more slots than tiles");
        check_layout<7, 8, 40, 3, 2>(c, "7 memories in banks of 3 (the last one partly filled)");
        run_packed_mvau<PackedMv<12, 8, 2, 4, 2, 4> >(c, "mvau PE 4 in 2 banks, 4 tiles per word");
        run_packed_mvau<PackedMv<15, 9, 5, 3, 3, 2> >(c, "mvau PE 3 side by side, 2 tiles per word (odd TILES)");
        run_packed_mvau<PackedMv<8, 4, 1, 1, 1, 16> >(c, "mvau PE 1, 16 tiles per word");
        run_packed_mvau<PackedMv<10, 10, 2, 5, 2, 2> >(c, "mvau PE 5 in banks of 2, 2 tiles per word");
        run_packed_depthwise(c, "depthwise 4 tiles per word");
    });
}
