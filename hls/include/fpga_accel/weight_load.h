// fpga-accel HLS library: filling a writable weight memory from DDR when the accelerator starts.
//
// A URAM holds nothing after configuration (AMD UG573: UltraRAM contents are zero), so weight
// memories the fold model placed in URAM are static arrays written by a load call instead of ROMs in
// the bitstream. load_words<W, BANKS, DEPTH, MEM_BITS>(src, dst) copies dst[BANKS][DEPTH] (words of W
// bits, the packed layout weight_memory.h reads, unchanged) from MEM_BITS-wide memory words, in the
// order of the bundle's weights/uram.bin (fpga_accel/codegen/uram_load.py):
//   W <= MEM_BITS: E = MEM_BITS / W words per memory word, word i = b*DEPTH + d at bits
//                  [(i%E)*W, (i%E+1)*W) of memory word i/E (the rest of a memory word is 0);
//   W >  MEM_BITS: N = ceil(W / MEM_BITS) memory words per word, little-endian (low bits first).
// One word is written per cycle (the memory's write port); the memory words are read in order, so the
// reads form bursts. Memory words used: load_span<W, BANKS, DEPTH, MEM_BITS>::value.
#ifndef FA_WEIGHT_LOAD_H
#define FA_WEIGHT_LOAD_H

#include <ap_int.h>

namespace fa {

template <unsigned W, unsigned BANKS, unsigned DEPTH, unsigned MEM_BITS>
struct load_span {
    static const unsigned PER = W <= MEM_BITS ? MEM_BITS / W : 1;  // words per memory word
    static const unsigned SPAN = W <= MEM_BITS ? 1 : (W + MEM_BITS - 1) / MEM_BITS;  // memory words per word
    static const unsigned long value =
        W <= MEM_BITS ? ((unsigned long)BANKS * DEPTH + PER - 1) / PER : (unsigned long)BANKS * DEPTH * SPAN;
};

template <unsigned W, unsigned BANKS, unsigned DEPTH, unsigned MEM_BITS>
void load_words(const ap_uint<MEM_BITS>* src, ap_uint<W> dst[BANKS][DEPTH]) {
    typedef load_span<W, BANKS, DEPTH, MEM_BITS> M;
    ap_uint<MEM_BITS> word = 0;
    unsigned slot = 0, b = 0, d = 0;
    unsigned long at = 0;
LOAD:
    for (unsigned long i = 0; i < (unsigned long)BANKS * DEPTH; i++) {
#pragma HLS PIPELINE II = M::SPAN
        ap_uint<M::SPAN * MEM_BITS> v = 0;
        if (W <= MEM_BITS) {
            if (slot == 0) word = src[at++];
            v = word.range((slot + 1) * W - 1, slot * W);
            slot = slot + 1 == M::PER ? 0 : slot + 1;
        } else {
            for (unsigned k = 0; k < M::SPAN; k++) v.range((k + 1) * MEM_BITS - 1, k * MEM_BITS) = src[at++];
        }
        dst[b][d] = v.range(W - 1, 0);
        if (++d == DEPTH) { d = 0; b++; }
    }
}

}  // namespace fa

#endif  // FA_WEIGHT_LOAD_H
