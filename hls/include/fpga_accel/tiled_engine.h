// fpga-accel HLS library: the tiled engine — one Tm x Tn conv/GEMM array that runs a compiled program
// layer after layer, with weights and feature maps in DDR (docs/tiled.md, DESIGN.md §8).
//
//   TiledEngine<tiled_config<TM, TN, INPUT_BUFFER, WEIGHT_BUFFER, OUTPUT_BUFFER, ACC_BITS, LUT_ENTRIES, PACK, SPLIT,
//               AXI_BYTES>>
//       ::run(desc, desc_words, weights, weights_bytes, acts, act_bytes, weights_b, acts_b, buffers) -> status
//
// desc is the descriptor array (fpga_accel/tiled/descriptors.py: a header record, then one fixed-size
// record per layer), weights the weights arena, acts the activation arena of one image (the host has
// written the inputs into it and reads the outputs back); weights_b and acts_b the same two arenas
// through a split engine's second masters (SPLIT = 1: a dense convolution's loads are spread over
// both, docs/tiled.md; SPLIT = 0: the callers pass weights and acts again, and only the first masters
// are read). The *_words / *_bytes arguments are the sizes
// of the buffers the host allocated, `buffers` the on-chip memories (Buffers<C>, tiled/config.h; the
// caller owns them, with internal linkage, so two engines in one process never share them): the engine checks the header and every layer against them and
// against its own Tm, Tn and buffers before it runs anything (tiled/checks.h), so a corrupt
// program is refused instead of reading or writing out of bounds. The status is 0, or the code of the
// first refusal or run-time failure with the layer index above the low 8 bits (descriptor.h, Status).
//
// Each layer: its record is copied on chip, decoded, and dispatched to its unit — conv/gemm
// (tiled/conv.h), window and global pools (tiled/pool.h), add/requant/lut (tiled/eltwise.h), mul
// (tiled/mul.h) — which
// share the post stages (tiled/output_path.h) and requant.h's arithmetic; the convolutions and pools
// share one output path (tiled/drain.h). The array's units pipeline
// the tiles of a spatial tile through ping-pong halves of the input, weight and accumulator buffers:
// load of the next tile | the array on the current one | output path of the previous one
// (docs/tiled.md §5).
//
// A top function for Vitis HLS is tiled/top.h. In C simulation, FA_CYCLE counts the pipelined
// compute iterations; layer_cycles() keeps them per layer.
#ifndef FA_TILED_ENGINE_H
#define FA_TILED_ENGINE_H

#include <stdint.h>

#include "fpga_accel/tiled/checks.h"
#include "fpga_accel/tiled/config.h"
#include "fpga_accel/tiled/conv.h"
#include "fpga_accel/tiled/descriptor.h"
#include "fpga_accel/tiled/eltwise.h"
#include "fpga_accel/tiled/mul.h"
#include "fpga_accel/tiled/pool.h"
#include "fpga_accel/types.h"

namespace fa {
namespace tiled {

#ifndef __SYNTHESIS__
static const int MAX_SIM_LAYERS = 1 << 16;
// C simulation: compute cycles of each layer of the last run (process-wide, like sim::cycles()).
inline unsigned long long* layer_cycles() {
    static unsigned long long c[MAX_SIM_LAYERS];
    return c;
}
#endif

template <class C>
struct TiledEngine {
    static void read_record(const uint32_t* desc, uint32_t index, uint32_t rec[RECORD_WORDS]) {
        FA_TILED_TRACE_ACCESS(desc + (uint64_t)index * RECORD_WORDS, RECORD_WORDS * 4, 0);
    record_read:
        for (int i = 0; i < RECORD_WORDS; i++) {
#pragma HLS PIPELINE II = 1
            rec[i] = desc[(uint64_t)index * RECORD_WORDS + i];
        }
    }

    static int run_layer(const Layer& L, const uint8_t* weights, uint8_t* acts, const uint8_t* weights_b,
                         const uint8_t* acts_b, Buffers<C>& b) {
        // the convolutions' and the pools' output path: one instance for every call site of the layer
        // functions inlined here, both accumulator halves (tiled/drain.h; unconfirmed without a
        // synthesis report, as the rest of the engine's structure)
#pragma HLS ALLOCATION function instances = drain<C> limit = 1
        // a unit the engine lacks (C::UNITS, a constant) is never called, so synthesis makes none of it;
        // the checks refused its layers before the first layer ran
        if (unit_of(L.kind) & ~C::UNITS) return S_ENGINE;
        switch (L.kind) {
            case K_CONV:
            case K_GEMM: return conv_layer<C>(L, weights, acts, weights_b, acts_b, b);
            case K_MAXPOOL:
            case K_AVGPOOL: return C::UNITS & (U_MAXPOOL | U_AVGPOOL) ? window_pool<C>(L, weights, acts, acts_b, b) : S_ENGINE;
            case K_GLOBAL_AVGPOOL:
            case K_GLOBAL_MAXPOOL: return C::UNITS & U_GLOBAL ? global_pool<C>(L, weights, acts, b) : S_ENGINE;
            case K_MUL: return C::UNITS & U_MUL ? mul_layer<C>(L, weights, acts, b) : S_ENGINE;
            default: return C::UNITS & U_ELTWISE ? eltwise_layer<C>(L, weights, acts, b) : S_ENGINE;
        }
    }

    static unsigned run(const uint32_t* desc, uint32_t desc_words, const uint8_t* weights, uint32_t weights_bytes,
                        uint8_t* acts, uint32_t act_bytes, const uint8_t* weights_b, const uint8_t* acts_b,
                        Buffers<C>& b) {
        const Bounds B = {C::TM, C::TN, C::INPUT_BUFFER, C::WEIGHT_BUFFER, C::OUTPUT_BUFFER, C::ACC_BITS,
                          C::LUT_ENTRIES, C::PACK, weights_bytes, act_bytes, C::UNITS};
        uint32_t rec[RECORD_WORDS];
        Layer L;
        FA_TILED_TRACE_RUN(desc, (uint64_t)desc_words * 4, weights, weights_bytes, acts, act_bytes);
        if (desc_words < (uint32_t)RECORD_WORDS) return status(S_HEADER, 0);
        read_record(desc, 0, rec);
        int code = check_header(rec, desc_words, B);
        if (code) return status(code, 0);
        const uint32_t n = rec[H_LAYERS];
    check_all:  // every layer is checked before the first one runs
        for (uint32_t i = 0; i < n; i++) {
            read_record(desc, 1 + i, rec);
            decode_layer(rec, L);
            code = check_layer(L, B);
            if (code) return status(code, (int)i);
        }
    layers:
        for (uint32_t i = 0; i < n; i++) {
            read_record(desc, 1 + i, rec);
            decode_layer(rec, L);
            FA_TILED_TRACE_LAYER(i);
#ifndef __SYNTHESIS__
            const unsigned long long before = sim::cycles();
#endif
            code = run_layer(L, weights, acts, weights_b, acts_b, b);
#ifndef __SYNTHESIS__
            if (i < (uint32_t)MAX_SIM_LAYERS) layer_cycles()[i] = sim::cycles() - before;
#endif
            if (code) return status(code, (int)i);
        }
        return S_OK;
    }
};

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_ENGINE_H
