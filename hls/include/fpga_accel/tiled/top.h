// fpga-accel HLS library, tiled engine: the top function Vitis HLS synthesises (and C simulation
// calls through the same C ABI), one engine configuration chosen by macros:
//   FA_TILED_TM, FA_TILED_TN, FA_TILED_INPUT_BUFFER, FA_TILED_WEIGHT_BUFFER, FA_TILED_OUTPUT_BUFFER
//   (the program's `engine` section), FA_TILED_ACC_BITS, FA_TILED_LUT_ENTRIES, FA_TILED_PACK (1, or 2: two
//   8-bit products per DSP, pack.h), FA_TILED_URAM (1: input and accumulator buffers in UltraScale+
//   URAM, else block RAM) and FA_TILED_AXI_BITS (the arenas' m_axi width: a Zynq board's HP port width,
//   else 512; fpga_accel/tiled/ports.py axi_bits) and FA_TILED_SPLIT (1 on a board with a second pair
//   of HP ports, fpga_accel/tiled/ports.py split; else 0).
// The buffers' banking is declared here, and fpga_accel/tiled/target.py counts exactly these memories:
// the input buffer cyclic over max(TM, TN) banks (the lanes read consecutive channels), the weights over
// TM*TN banks of LUTRAM (every lane reads its own weight each cycle), the accumulators over TM banks.
// Three m_axi ports (descriptors, weights arena, activation arena) on separate bundles so their bursts
// do not queue behind each other (the arenas' ports ask Vitis HLS to widen sequential accesses to
// FA_TILED_AXI_BITS-bit words, max_widen_bitwidth: no wider than the PS port on Zynq boards, whose
// downsizer would split wider words again while their adapter FIFOs cost block RAM; the engine still
// reads and writes element by element, so whether its loops become wide bursts is the tool's call,
// unconfirmed without a synthesis report; the loads move a bus word of FA_TILED_AXI_BITS an
// iteration, memory.h); addresses,
// sizes and the status return on the s_axilite control interface (ap_start/ap_done at 0x00, arguments
// from 0x10, in the order below).
// A split engine (FA_TILED_SPLIT = 1) appends two read masters after act_bytes, each on a bundle and so
// an HP port of its own: weights_b (gmem3) and acts_b (gmem4), to which the host passes the weights
// arena's and the activation arena's addresses again; a dense convolution reads half of each weight
// run and every other input row through them, beside the first masters (memory.h, conv.h). With 0 the
// engine is called with weights and acts in their place and reads through its three ports alone.
#ifndef FA_TILED_TOP_H
#define FA_TILED_TOP_H

#include <stdint.h>

#include "fpga_accel/tiled_engine.h"

#ifndef FA_TILED_TM
#define FA_TILED_TM 16
#endif
#ifndef FA_TILED_TN
#define FA_TILED_TN 16
#endif
#ifndef FA_TILED_INPUT_BUFFER
#define FA_TILED_INPUT_BUFFER 32768
#endif
#ifndef FA_TILED_WEIGHT_BUFFER
#define FA_TILED_WEIGHT_BUFFER (49 * FA_TILED_TM * FA_TILED_TN)
#endif
#ifndef FA_TILED_OUTPUT_BUFFER
#define FA_TILED_OUTPUT_BUFFER 16384
#endif
#ifndef FA_TILED_ACC_BITS
#define FA_TILED_ACC_BITS 46
#endif
#ifndef FA_TILED_PACK
#define FA_TILED_PACK 1
#endif
#ifndef FA_TILED_URAM
#define FA_TILED_URAM 0
#endif
#ifndef FA_TILED_SPLIT
#define FA_TILED_SPLIT 0
#endif
#ifndef FA_TILED_AXI_BITS
#define FA_TILED_AXI_BITS 512
#endif
#ifndef FA_TILED_OUT_LANES
#define FA_TILED_OUT_LANES 0  // the output path's lanes: as many as the bus word has bytes
#endif
#ifndef FA_TILED_UNITS
#define FA_TILED_UNITS 31  // the units beside the array (checks.h Unit): all of them
#endif
#define FA_TILED_IN_BANKS (FA_TILED_TM > FA_TILED_TN ? FA_TILED_TM : FA_TILED_TN)
#define FA_TILED_WEIGHT_BANKS (FA_TILED_TM * FA_TILED_TN)
#ifndef FA_TILED_LUT_ENTRIES
#define FA_TILED_LUT_ENTRIES 4096
#endif

typedef fa::tiled::tiled_config<FA_TILED_TM, FA_TILED_TN, FA_TILED_INPUT_BUFFER, FA_TILED_WEIGHT_BUFFER,
                                FA_TILED_OUTPUT_BUFFER, FA_TILED_ACC_BITS, FA_TILED_LUT_ENTRIES, FA_TILED_PACK,
                                FA_TILED_SPLIT, FA_TILED_AXI_BITS / 8, FA_TILED_OUT_LANES,
                                FA_TILED_UNITS>
    fa_tiled_config;

// The on-chip buffers, with internal linkage: one set per engine, never merged with another library's.
static fa::tiled::Buffers<fa_tiled_config> fa_tiled_buffers;

// Two whole signatures rather than a conditional argument, so each reads as the register map it makes.
#if !FA_TILED_SPLIT
extern "C" unsigned fa_tiled_top(const uint32_t* desc, uint32_t desc_words, const uint8_t* weights,
                                 uint32_t weights_bytes, uint8_t* acts, uint32_t act_bytes) {
#else
extern "C" unsigned fa_tiled_top(const uint32_t* desc, uint32_t desc_words, const uint8_t* weights,
                                 uint32_t weights_bytes, uint8_t* acts, uint32_t act_bytes, const uint8_t* weights_b,
                                 const uint8_t* acts_b) {
#endif
#pragma HLS INTERFACE mode = m_axi port = desc offset = slave bundle = gmem0 max_read_burst_length = 64
#pragma HLS INTERFACE mode = m_axi port = weights offset = slave bundle = gmem1 max_read_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = m_axi port = acts offset = slave bundle = gmem2 max_read_burst_length = 64 max_write_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = s_axilite port = desc
#pragma HLS INTERFACE mode = s_axilite port = desc_words
#pragma HLS INTERFACE mode = s_axilite port = weights
#pragma HLS INTERFACE mode = s_axilite port = weights_bytes
#pragma HLS INTERFACE mode = s_axilite port = acts
#pragma HLS INTERFACE mode = s_axilite port = act_bytes
#if FA_TILED_SPLIT
#pragma HLS INTERFACE mode = m_axi port = weights_b offset = slave bundle = gmem3 max_read_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = m_axi port = acts_b offset = slave bundle = gmem4 max_read_burst_length = 64 max_widen_bitwidth = FA_TILED_AXI_BITS
#pragma HLS INTERFACE mode = s_axilite port = weights_b
#pragma HLS INTERFACE mode = s_axilite port = acts_b
#else
    const uint8_t *weights_b = weights, *acts_b = acts;  // one master per arena
#endif
#pragma HLS INTERFACE mode = s_axilite port = return
#pragma HLS ARRAY_PARTITION variable = fa_tiled_buffers.in cyclic factor = FA_TILED_IN_BANKS dim = 2
#pragma HLS ARRAY_PARTITION variable = fa_tiled_buffers.w cyclic factor = FA_TILED_WEIGHT_BANKS dim = 2
#pragma HLS BIND_STORAGE variable = fa_tiled_buffers.w type = ram_s2p impl = lutram
#pragma HLS ARRAY_PARTITION variable = fa_tiled_buffers.acc cyclic factor = FA_TILED_TM dim = 2
#if FA_TILED_URAM
#pragma HLS BIND_STORAGE variable = fa_tiled_buffers.in type = ram_s2p impl = uram
#pragma HLS BIND_STORAGE variable = fa_tiled_buffers.acc type = ram_s2p impl = uram
#endif
    return fa::tiled::TiledEngine<fa_tiled_config>::run(desc, desc_words, weights, weights_bytes, acts, act_bytes,
                                                         weights_b, acts_b, fa_tiled_buffers);
}

#ifndef __SYNTHESIS__
// C simulation only: compute cycles (pipelined iterations) of layer i in the last run.
extern "C" unsigned long long fa_tiled_layer_cycles(unsigned i) {
    return i < (unsigned)fa::tiled::MAX_SIM_LAYERS ? fa::tiled::layer_cycles()[i] : 0ULL;
}
#endif

#endif  // FA_TILED_TOP_H
