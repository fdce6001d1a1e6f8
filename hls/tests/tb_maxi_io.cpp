// Testbench for fpga_accel/maxi_io.h: a host array of int8/uint8/int16/uint16 in memory words
// streams in as packed words and back out as the same bytes (sign/zero extended, zero tail), for
// several lane counts, element widths and memory word widths; plus a Vitis-style kernel top
// (m_axi in -> MVAU -> m_axi out) against a direct int64 Gemm.
#include "fpga_accel/maxi_io.h"
#include "fpga_accel/mvau.h"
#include "tb_common.h"

#include <algorithm>

// The host's buffer: element j in container j%E of memory word j/E, little-endian; whole words.
template <int BITS, int MEM_BITS>
std::vector<ap_uint<MEM_BITS> > host_buffer(const vec& x) {
    const int cont = BITS <= 8 ? 8 : 16, e = MEM_BITS / cont;
    std::vector<ap_uint<MEM_BITS> > mem((x.size() + e - 1) / e, 0);
    for (size_t j = 0; j < x.size(); j++) {
        ap_uint<MEM_BITS> c = (uint64_t)x[j] & ((uint64_t(1) << cont) - 1);  // two's complement container
        mem[j / e] |= c << ((j % e) * cont);
    }
    return mem;
}

template <int LANES, int BITS, bool SGN, int MEM_BITS>
void run_roundtrip(Checker& chk, unsigned n_words) {
    const std::string name = "mem " + std::to_string(MEM_BITS) + "b, " + std::to_string(LANES) + "x" +
                             std::to_string(BITS) + (SGN ? "s" : "u") + ", " + std::to_string(n_words) + " words";
    vec x = rand_vec((size_t)n_words * LANES, qmin(BITS, SGN), qmax(BITS, SGN));
    std::vector<ap_uint<MEM_BITS> > mem_in = host_buffer<BITS, MEM_BITS>(x);
    chk.ok(name + " mem_words", fa::mem_words<LANES, BITS, MEM_BITS>(n_words) == mem_in.size());
    hls::stream<ap_uint<LANES * BITS> > s("s");
    // Simulation runs the two dataflow processes one after the other: N_MEM + max(N_MEM, N) iterations.
    const unsigned long long n_mem = mem_in.size();
    unsigned long long c0 = fa::sim::cycles();
    fa::mem_to_stream<LANES, BITS, MEM_BITS>(mem_in.data(), s, n_words);  // one image
    chk.cycles(name + " in cycles", c0, n_mem + std::max<unsigned long long>(n_mem, n_words));
    // Read the words back without draining s (it feeds stream_to_mem next).
    vec got;
    hls::stream<ap_uint<LANES * BITS> > s2("s2");
    for (unsigned i = 0; i < n_words && !s.empty(); i++) {
        ap_uint<LANES * BITS> w = s.read();
        s2.write(w);
        for (int l = 0; l < LANES; l++) got.push_back(SGN ? (int64_t)fa::get_lane<BITS, true>(w, l) : (int64_t)fa::get_lane<BITS, false>(w, l));
    }
    chk.ok(name + " in: exact word count", s.empty());
    chk.same(name + " in", got, x);
    std::vector<ap_uint<MEM_BITS> > mem_out(mem_in.size(), ~ap_uint<MEM_BITS>(0));  // poison
    c0 = fa::sim::cycles();
    fa::stream_to_mem<LANES, BITS, SGN, MEM_BITS>(s2, mem_out.data(), n_words);
    chk.cycles(name + " out cycles", c0, n_mem + std::max<unsigned long long>(n_mem, n_words + 1));
    chk.ok(name + " out consumes all", s2.empty());
    bool same = true;
    for (size_t i = 0; i < mem_in.size(); i++) same = same && mem_out[i] == mem_in[i];
    chk.ok(name + " out bytes equal the host array (zero tail)", same);
}

// A Vitis kernel top as the code generator writes it: one Gemm layer between two m_axi ports.
struct Fc {
    static const unsigned MW = 12, MH = 8, SIMD = 4, PE = 2, N_VECTORS = 1;
    static const int IN_BITS = 8, W_BITS = 8, ACC_BITS = 36, OUT_BITS = 8, OUT_ZP = -4, OUT_LO = -128, OUT_HI = 127;
    static const bool IN_SIGNED = true;
    static const int PACK = 2, PACK_SHIFT = 16;  // PE 0 and 1 share a DSP (mvau.h)
    static const bool MUL_FABRIC = false;
};
static ap_uint<Fc::SIMD * Fc::W_BITS> fc_w[Fc::PE][fa::mvau_dims<Fc>::TILES];
static ap_int<Fc::ACC_BITS> fc_b[Fc::PE][fa::mvau_dims<Fc>::NF];
static fa::mult_t fc_m[Fc::PE][fa::mvau_dims<Fc>::NF];
static fa::shift_t fc_s[Fc::PE][fa::mvau_dims<Fc>::NF];

void kernel_top(const ap_uint<64>* in, ap_uint<64>* out, unsigned reps) {
#pragma HLS INTERFACE mode = m_axi port = in offset = slave bundle = gmem0
#pragma HLS INTERFACE mode = m_axi port = out offset = slave bundle = gmem1
#pragma HLS INTERFACE mode = s_axilite port = in
#pragma HLS INTERFACE mode = s_axilite port = out
#pragma HLS INTERFACE mode = s_axilite port = reps
#pragma HLS INTERFACE mode = s_axilite port = return
#pragma HLS DATAFLOW
    hls::stream<ap_uint<Fc::SIMD * Fc::IN_BITS> > x("x");
    hls::stream<ap_uint<Fc::PE * Fc::OUT_BITS> > y("y");
    fa::mem_to_stream<Fc::SIMD, Fc::IN_BITS, 64>(in, x, Fc::MW / Fc::SIMD, reps);
    fa::mvau<Fc>(x, y, fc_w, fc_b, fc_m, fc_s, reps);
    fa::stream_to_mem<Fc::PE, Fc::OUT_BITS, true, 64>(y, out, Fc::MH / Fc::PE, reps);
}

void run_kernel(Checker& chk, unsigned reps) {
    std::vector<vec> W(Fc::MH);
    vec b = rand_vec(Fc::MH, -3000, 3000), m(Fc::MH), sh(Fc::MH);
    for (unsigned r = 0; r < Fc::MH; r++) {
        W[r] = rand_vec(Fc::MW, -127, 127);
        m[r] = rand_int(1 << 16, (1 << 17) - 1);
        sh[r] = rand_int(25, 26);
        const unsigned p = r % Fc::PE, nf = r / Fc::PE;
        fc_b[p][nf] = b[r];
        fc_m[p][nf] = m[r];
        fc_s[p][nf] = sh[r];
        for (unsigned c = 0; c < Fc::MW; c++) {
            ap_uint<Fc::SIMD * Fc::W_BITS>& word = fc_w[p][nf * (Fc::MW / Fc::SIMD) + c / Fc::SIMD];
            fa::set_lane<Fc::W_BITS>(word, c % Fc::SIMD, W[r][c]);
        }
    }
    vec x = rand_vec((size_t)Fc::MW * reps, -128, 127), want;
    for (unsigned n = 0; n < reps; n++)
        for (unsigned r = 0; r < Fc::MH; r++) {
            int64_t acc = b[r];
            for (unsigned c = 0; c < Fc::MW; c++) acc += W[r][c] * x[n * Fc::MW + c];
            want.push_back(ref_requant(acc, m[r], (int)sh[r], Fc::OUT_ZP, Fc::OUT_LO, Fc::OUT_HI));
        }
    std::vector<ap_uint<64> > in = host_buffer<8, 64>(x), out((want.size() + 7) / 8, 0);
    kernel_top(in.data(), out.data(), reps);
    vec got;
    for (size_t j = 0; j < want.size(); j++) got.push_back((int8_t)(uint8_t)(out[j / 8] >> ((j % 8) * 8)));
    chk.same("kernel top m_axi -> mvau -> m_axi, batch " + std::to_string(reps), got, want);
}

static void run_all(Checker& chk) {
    run_roundtrip<3, 8, false, 64>(chk, 25);   // 75 bytes: tail in the last word
    run_roundtrip<4, 8, true, 32>(chk, 16);
    run_roundtrip<1, 8, true, 512>(chk, 100);
    run_roundtrip<16, 8, false, 64>(chk, 7);    // LANES > E
    run_roundtrip<5, 4, true, 64>(chk, 13);     // int4 in int8 containers
    run_roundtrip<2, 2, false, 32>(chk, 9);
    run_roundtrip<3, 12, true, 64>(chk, 11);    // int12 in int16 containers
    run_roundtrip<2, 16, false, 128>(chk, 10);
    run_roundtrip<24, 16, true, 256>(chk, 3);   // LANES*BITS > MEM_BITS
    run_roundtrip<7, 8, true, 64>(chk, 1);
    run_kernel(chk, 1);
    run_kernel(chk, 5);
}

int main() {
    Checker chk;
    return chk.both_paths("tb_maxi_io", run_all);
}
