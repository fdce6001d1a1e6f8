// Testbench for fpga_accel/weight_load.h: writable weight memories filled from memory words, for
// narrow words (several per memory word, a last memory word partly filled), words of exactly one
// memory word, and wide words over several memory words. The memory words are laid out here from the
// header's comment, bit by bit, independently of its code.
#define AP_INT_MAX_W 2048
#include "fpga_accel/weight_load.h"
#include "tb_common.h"

template <unsigned W, unsigned BANKS, unsigned DEPTH>
void check_load(Checker& chk, const char* name) {
    const unsigned MEM = 512;
    typedef fa::load_span<W, BANKS, DEPTH, MEM> S;
    const unsigned long n = (unsigned long)BANKS * DEPTH;
    const unsigned per = W <= MEM ? MEM / W : 1, span = W <= MEM ? 1 : (W + MEM - 1) / MEM;
    const unsigned long words = W <= MEM ? (n + per - 1) / per : n * span;
    chk.ok(std::string(name) + " memory words", S::value == words);
    std::vector<std::vector<int> > bits(n, std::vector<int>(W));
    std::vector<ap_uint<MEM> > mem(words, 0);
    for (unsigned long i = 0; i < n; i++)
        for (unsigned k = 0; k < W; k++) {
            bits[i][k] = (int)rand_int(0, 1);
            const unsigned long at = W <= MEM ? (i % per) * W + k : (unsigned long)k;  // bit in its memory word(s)
            const unsigned long word = W <= MEM ? i / per : i * span + at / MEM;
            mem[word][at % MEM] = bits[i][k];
        }
    static ap_uint<W> dst[BANKS][DEPTH];
    for (unsigned b = 0; b < BANKS; b++)
        for (unsigned d = 0; d < DEPTH; d++) dst[b][d] = 0;
    fa::load_words<W, BANKS, DEPTH, MEM>(mem.data(), dst);
    vec got, want;
    for (unsigned long i = 0; i < n; i++)
        for (unsigned k = 0; k < W; k++) {
            got.push_back((int)dst[i / DEPTH][i % DEPTH][k]);
            want.push_back(bits[i][k]);
        }
    chk.same(name, got, want);
}

int main() {
    Checker chk;
    return chk.both_paths("tb_weight_load", [](Checker& c) {
        check_load<112, 1, 37>(c, "4 words of 112 bits per memory word, the last partly filled");
        check_load<72, 3, 20>(c, "3 banks of 72-bit words");
        check_load<512, 2, 5>(c, "one memory word per word");
        check_load<600, 2, 3>(c, "600-bit words over 2 memory words");
        check_load<1500, 1, 4>(c, "1500-bit words over 3 memory words");
        check_load<8, 1, 130>(c, "64 bytes per memory word");
    });
}
