// fpga-accel HLS library: packed weight memories of the dataflow PEs (mvau, grouped_mvau, depthwise).
//
// A PE reads, every cycle, one word of WW bits from each of its MEMS logical memories (mvau: one per
// PE, WW = SIMD*W_BITS; depthwise: one, WW = PE*W_BITS), all at the same address `tile`, which runs
// 0, 1, .., TILES-1 in order. Stored one array per memory, a narrow or shallow memory wastes most of
// its BRAM18 / URAM block (an 8-bit word in a 72-bit URAM row). The packed layout instead stores
//   BANKS = ceil(MEMS/P) arrays of DEPTH = ceil(TILES/R) words of WORD = R*P*WW bits:
//   word a of bank b, slot r (bits [(r*P + j)*WW, (r*P + j + 1)*WW)) = memory b*P + j at tile a*R + r,
// i.e. P memories side by side (one read serves them all) and R consecutive tiles per word (a deep
// narrow memory becomes a shallow wide one, in the block's aspect ratio). R is a power of two, so
// the address and the slot are the tile's high and low bits. Reading R slots of one word over R
// cycles needs nothing but the mux of the slot: one read per cycle as before, II = 1 and the
// cycle counts unchanged. Tiles past TILES in the last word, and memories past MEMS in the last bank,
// are zero (P need not divide MEMS: a prime number of PEs still packs).
// pe/weight_memory.py chooses P and R (config members WM_PES, WM_SLOTS; 1 and 1 when absent) and
// writes the words in this order; the generated top binds each bank array to its resource
// (BIND_STORAGE) and the PE partitions the banks (ARRAY_PARTITION dim 1), which is what the cost
// model counts.
#ifndef FA_WEIGHT_MEMORY_H
#define FA_WEIGHT_MEMORY_H

#include <ap_int.h>

namespace fa {

template <class T> struct wm_void { typedef void type; };
// WM_PES / WM_SLOTS of a config struct, 1 when it has none (an unpacked memory per PE).
template <class CFG, class = void> struct wm_pes { static const unsigned value = 1; };
template <class CFG> struct wm_pes<CFG, typename wm_void<decltype(CFG::WM_PES)>::type> {
    static const unsigned value = CFG::WM_PES;
};
template <class CFG, class = void> struct wm_slots { static const unsigned value = 1; };
template <class CFG> struct wm_slots<CFG, typename wm_void<decltype(CFG::WM_SLOTS)>::type> {
    static const unsigned value = CFG::WM_SLOTS;
};

template <unsigned MEMS, unsigned WW, unsigned TILES, unsigned P, unsigned R> struct weight_memory {
    static_assert(P >= 1 && P <= MEMS, "WM_PES is between 1 and the number of memories");
    static_assert(R >= 1 && (R & (R - 1)) == 0, "WM_SLOTS must be a power of two");
    static const unsigned BANKS = (MEMS + P - 1) / P;
    static const unsigned DEPTH = (TILES + R - 1) / R;
    static const unsigned WORD = R * P * WW;
    typedef ap_uint<WORD> word_t;
    typedef ap_uint<WW> elem_t;

    // The MEMS words at `tile`: one read per bank, then the slot's P words (a mux of R).
    static void read(const word_t mem[BANKS][DEPTH], unsigned tile, elem_t out[MEMS]) {
#pragma HLS INLINE
        const unsigned a = tile / R, r = tile % R;  // R a power of two: a shift and a mask
        for (unsigned b = 0; b < BANKS; b++) {
#pragma HLS UNROLL
            const word_t w = mem[b][a];
            for (unsigned j = 0; j < P; j++) {
#pragma HLS UNROLL
                if (b * P + j >= MEMS) continue;  // the last bank's unused slots
                elem_t e = 0;
                for (unsigned q = 0; q < R; q++) {
#pragma HLS UNROLL
                    if (q == r) e = w.range((q * P + j + 1) * WW - 1, (q * P + j) * WW);
                }
                out[b * P + j] = e;
            }
        }
    }

    // Memory m's word at `tile` (C simulation's unpacking; the same bits read() returns).
    static elem_t at(const word_t mem[BANKS][DEPTH], unsigned m, unsigned tile) {
        const unsigned slot = (tile % R) * P + m % P;
        return mem[m / P][tile / R].range((slot + 1) * WW - 1, slot * WW);
    }
};

// The packed memory of a PE whose config struct is CFG.
template <class CFG, unsigned MEMS, unsigned WW, unsigned TILES>
struct pe_weights : weight_memory<MEMS, WW, TILES, wm_pes<CFG>::value, wm_slots<CFG>::value> {};

}  // namespace fa

#endif  // FA_WEIGHT_MEMORY_H
