// fpga-accel HLS library, tiled engine: the checks that bound a program before it runs.
//
// The engine trusts only what it can bound. check_header() and check_layer() refuse, before any layer
// runs, a program whose header does not match the engine it runs on, or any layer whose
//   - views (inputs, output, residual) reach past the activation arena or are misaligned/empty,
//   - blocks (weights, bias, M, shift, pre, tables) reach past the weights arena or have the wrong
//     element count or type for the layer,
//   - geometry disagrees with its view shapes (channels, groups, window output size),
//   - tiles exceed Tm, Tn or the on-chip input/weight/output/table buffers,
//   - scalar constants lie outside the contract (shift 1..62, M < 2^17, acc_bits <= the accumulator).
// Every loop bound and buffer index of the engine derives from checked fields, so a corrupt program
// cannot read or write outside the arenas or the buffers. Values read at run time (per-channel M and
// shift, lookup indices, results outside the output type, partial sums outside acc_bits) are checked
// as they are used and stop the engine with a status naming the layer (descriptor.h, Status).
#ifndef FA_TILED_CHECKS_H
#define FA_TILED_CHECKS_H

#include <stdint.h>

#include "fpga_accel/tiled/descriptor.h"

namespace fa {
namespace tiled {

// Sizes of the engine the program runs on, and of the arenas it was started with (bytes).
struct Bounds {
    int tm, tn, input_buffer, weight_buffer, output_buffer, acc_bits, lut_entries, pack;
    uint64_t weights_bytes, act_bytes;
    int units;  // the engine's units (Unit), beside the conv array every engine has
};

// The units beside the conv array, each with its own output path (docs/tiled.md §6: what an engine
// without them saves): a layer of a kind whose unit the engine lacks is refused (S_ENGINE).
enum Unit { U_MAXPOOL = 1, U_AVGPOOL = 2, U_GLOBAL = 4, U_ELTWISE = 8, U_MUL = 16, U_ALL = 31 };
inline int unit_of(int kind) {
    switch (kind) {
        case K_MAXPOOL: return U_MAXPOOL;
        case K_AVGPOOL: return U_AVGPOOL;
        case K_GLOBAL_AVGPOOL:
        case K_GLOBAL_MAXPOOL: return U_GLOBAL;
        case K_ADD:
        case K_REQUANT:
        case K_LUT: return U_ELTWISE;
        case K_MUL: return U_MUL;
        default: return 0;  // conv, gemm: the array
    }
}

inline bool view_ok(const View& v, uint64_t act_bytes) {
    if (v.dtype < D_INT8 || v.dtype > D_UINT16) return false;
    if (v.h < 1 || v.h > MAX_DIM || v.w < 1 || v.w > MAX_DIM || v.c < 1 || v.c > MAX_CHANNELS) return false;
    if (v.cs < 1 || v.cs > MAX_CHANNELS || v.offset % itemsize(v.dtype)) return false;
    const uint64_t last_channel = (uint64_t)(v.c - 1) * v.cs;  // < 2^48
    if ((uint64_t)v.ps < last_channel + 1 || v.ps > MAX_CHANNELS) return false;
    // < 2^32 pixels × < 2^24 stride × 2 bytes: no overflow in 64 bits
    const uint64_t end = v.offset + (((uint64_t)v.h * v.w - 1) * v.ps + last_channel + 1) * itemsize(v.dtype);
    return end <= act_bytes;
}
inline bool same_shape(const View& a, const View& b) { return a.h == b.h && a.w == b.w && a.c == b.c; }
inline bool block_ok(const Block& b, uint64_t count, int lo_dtype, int hi_dtype, uint64_t weights_bytes) {
    if (b.dtype < lo_dtype || b.dtype > hi_dtype || b.count != count) return false;
    return b.offset + count * itemsize(b.dtype) <= weights_bytes;
}
inline bool signed_dtype(int dt) { return dt == D_INT8 || dt == D_INT16 || dt == D_INT32 || dt == D_INT64; }
inline int window_out(int size, int k, int s, int d, int pad_begin_plus_end) {
    const int span = size + pad_begin_plus_end - (k - 1) * d - 1;
    return span < 0 ? 0 : span / s + 1;  // (no window fits: 0, never a valid extent)
}
inline int halo(int n, int s, int d, int k) { return (n - 1) * s + (k - 1) * d + 1; }
inline bool pad_ok(int p) { return p >= 0 && p <= MAX_KERNEL * MAX_KERNEL; }
inline bool shift_ok(int s) { return s >= 1 && s <= 62; }
inline bool mult_ok(int64_t m) { return m >= 0 && m < (1 << 17); }
inline bool small(int v) { return v >= -(1 << 16) && v <= (1 << 16); }  // zero points, clamp bounds
inline bool lut_ok(const Block& t, int entries, int in_min, int lut_entries, uint64_t weights_bytes) {
    if (entries < 4 || entries > lut_entries || (entries & (entries - 1)) || in_min > 0 || in_min < -(1 << 15))
        return false;
    return block_ok(t, (uint64_t)entries, D_INT8, D_UINT16, weights_bytes);
}

inline int check_header(const uint32_t* h, uint64_t desc_words, const Bounds& B) {
    if (desc_words < (uint64_t)RECORD_WORDS || h[H_MAGIC] != MAGIC || h[H_VERSION] != VERSION ||
        h[H_RECORD_WORDS] != (uint32_t)RECORD_WORDS || (uint64_t)(h[H_LAYERS] + 1ULL) * RECORD_WORDS > desc_words)
        return S_HEADER;
    if ((int)h[H_TM] != B.tm || (int)h[H_TN] != B.tn || (int)h[H_INPUT_BUFFER] != B.input_buffer ||
        (int)h[H_WEIGHT_BUFFER] != B.weight_buffer || (int)h[H_OUTPUT_BUFFER] != B.output_buffer ||
        h[H_WEIGHTS_BYTES] > B.weights_bytes || h[H_ACTIVATIONS_BYTES] > B.act_bytes)
        return S_ENGINE;
    return S_OK;
}

// One layer against the engine and the arenas: S_OK or the first refusal.
// Tap-parallel: a dense convolution runs Tn (tap, channel) pairs a cycle instead of one tap's Tn
// channels (conv.h) when that takes fewer cycles, ceil(K*cg/tn) < K*ceil(cg/tn) with K = KH*KW (a first
// layer's 3 channels, or channel counts Tn does not divide), and its im2col input tile
// (rows*cols*K*cg) and regrouped weights (ceil(K*cg/tn)*tm*tn) fit the input and weight buffers.
// fpga_accel/tiled/tiles.py has the same rule; the builder chooses the mode by the tile it gives.
inline bool tap_parallel(const Layer& L, int input_buffer, int weight_buffer) {
    const bool depthwise = L.groups > 1 && L.cg == 1;
    if (L.kind != K_CONV || depthwise || L.kh * L.kw < 2) return false;
    const uint64_t k = (uint64_t)L.kh * L.kw, groups = (k * L.cg + L.tn - 1) / L.tn;
    return groups < k * ((L.cg + L.tn - 1) / L.tn) && (uint64_t)L.rows * L.cols * k * L.cg <= (uint64_t)input_buffer &&
           groups * L.tm * L.tn <= (uint64_t)weight_buffer;
}

// Sampled input: a dense 1x1 convolution (or gemm) loads only the pixels its outputs read, rows x cols
// of them (a strided one skips the rest), not the span between them.
inline bool sampled_input(const Layer& L) {
    const bool depthwise = L.groups > 1 && L.cg == 1;
    return (L.kind == K_CONV || L.kind == K_GEMM) && !depthwise && L.kh == 1 && L.kw == 1;
}

// Tn tiles per dense step: a dense convolution or gemm (not tap-parallel, not depthwise) loads G
// consecutive Tn tiles of a group's channels at once, their input channels side by side in each pixel
// and their weight blocks as one run (consecutive in DDR), and the array runs them in turn from the
// buffer half. G is the most the input half (the full tile's input area, halo included, times the
// step's channels) and the weight half (KH*KW*Tm times them) hold, all ceil(cg/Tn) tiles when they
// fit, but half of them when that would make a convolution's spatial tile one step (one group, one
// Tm tile) and it has more than one tap: a lone step overlaps nothing, two overlap the second load
// with the first KH*KW products a pixel (a 1x1 step's products take about as long as a pixel's
// burst, and the whole rows it reads in one step are worth more). Then spread evenly over the steps
// that takes. fpga_accel/tiled/tiles.py has the same rule.
inline int tiles_per_step(const Layer& L, int input_buffer, int weight_buffer) {
    const uint64_t nt = ((uint64_t)L.cg + L.tn - 1) / L.tn;
    const uint64_t area = sampled_input(L) ? (uint64_t)L.rows * L.cols
                                           : (uint64_t)halo(L.rows, L.sh, L.dh, L.kh) * halo(L.cols, L.sw, L.dw, L.kw);
    const uint64_t by_input = (uint64_t)input_buffer / area, by_weights = (uint64_t)weight_buffer / ((uint64_t)L.kh * L.kw * L.tm);
    const uint64_t most = by_input < by_weights ? by_input : by_weights;  // channels a step may hold
    uint64_t g = most >= (uint64_t)L.cg ? nt : most / L.tn;
    if (g < 1) g = 1;  // a checked layer's one Tn tile always fits (check_layer)
    if (g >= nt && nt > 1 && L.kh * L.kw > 1 && L.groups == 1 && L.mg <= L.tm) g = (nt + 1) / 2;
    const uint64_t steps = (nt + g - 1) / g;
    return (int)((nt + steps - 1) / steps);
}

// Whole pixels: a dense or grouped convolution (or gemm) of more than one Tm tile and more than one
// spatial tile whose spatial tile holds all of the output's channels in one accumulator half
// (rows*cols*c <= the output buffer) keeps every Tm tile of the spatial tile on chip, and its output
// path writes a pixel's channels as one run (a whole row when they are all of the pixel's), reading
// the residual the same way, beside the next spatial tile's steps: the accumulator halves alternate
// across spatial tiles instead of Tm tiles (conv.h). One Tm tile writes whole pixels anyway; one
// spatial tile would leave its output path nothing to overlap. fpga_accel/tiled/tiles.py has the
// same rule.
inline bool whole_pixels(const Layer& L, int output_buffer) {
    const bool depthwise = L.groups > 1 && L.cg == 1;
    return (L.kind == K_CONV || L.kind == K_GEMM) && !depthwise && (L.groups > 1 || L.mg > L.tm) &&
           (L.rows < L.out.h || L.cols < L.out.w) && (uint64_t)L.rows * L.cols * L.out.c <= (uint64_t)output_buffer;
}

inline int check_layer(const Layer& L, const Bounds& B) {
    const bool conv = L.kind == K_CONV || L.kind == K_GEMM;
    const bool window = conv || L.kind == K_MAXPOOL || L.kind == K_AVGPOOL;
    const bool global = L.kind == K_GLOBAL_AVGPOOL || L.kind == K_GLOBAL_MAXPOOL;
    if (L.kind < K_CONV || L.kind > K_MUL) return S_KIND;
    if (unit_of(L.kind) & ~B.units) return S_ENGINE;
    if (L.n_inputs < 1 || L.n_inputs > (L.kind == K_ADD ? MAX_INPUTS : L.kind == K_MUL ? 2 : 1) ||
        ((L.kind == K_ADD || L.kind == K_MUL) && L.n_inputs < 2))
        return S_KIND;
    if (L.n_post < 0 || L.n_post > MAX_POST) return S_KIND;
    for (int i = 0; i < L.n_inputs; i++)
        if (!view_ok(L.in[i], B.act_bytes)) return S_VIEW;
    if (!view_ok(L.out, B.act_bytes)) return S_VIEW;
    const View& x = L.in[0];
    const View& o = L.out;
    // geometry
    const int oh = o.h, ow = o.w;
    if (window) {
        if (L.kh < 1 || L.kh > MAX_KERNEL || L.kw < 1 || L.kw > MAX_KERNEL || L.sh < 1 || L.sh > MAX_KERNEL ||
            L.sw < 1 || L.sw > MAX_KERNEL || L.dh < 1 || L.dh > MAX_KERNEL || L.dw < 1 || L.dw > MAX_KERNEL ||
            !pad_ok(L.pad_t) || !pad_ok(L.pad_l) || !pad_ok(L.pad_b) || !pad_ok(L.pad_r))
            return S_GEOMETRY;
        if (o.h != window_out(x.h, L.kh, L.sh, L.dh, L.pad_t + L.pad_b) ||
            o.w != window_out(x.w, L.kw, L.sw, L.dw, L.pad_l + L.pad_r))
            return S_GEOMETRY;
    }
    if (conv) {
        if (L.groups < 1 || L.cg < 1 || L.mg < 1 || (uint64_t)L.groups * L.cg != (uint64_t)x.c ||
            (uint64_t)L.groups * L.mg != (uint64_t)o.c)
            return S_GEOMETRY;
        if (L.kind == K_GEMM && (L.kh != 1 || L.kw != 1 || L.sh != 1 || L.sw != 1 || L.pad_t || L.pad_l || L.groups != 1 ||
                                 x.h != o.h || x.w != o.w))
            return S_GEOMETRY;
        if (!block_ok(L.weights, (uint64_t)L.groups * L.mg * L.cg * L.kh * L.kw, D_INT8, D_INT16, B.weights_bytes) ||
            !block_ok(L.bias, (uint64_t)o.c, D_INT32, D_INT64, B.weights_bytes) ||
            !block_ok(L.mblk, (uint64_t)o.c, D_INT32, D_INT32, B.weights_bytes) ||
            !block_ok(L.sblk, (uint64_t)o.c, D_INT8, D_INT8, B.weights_bytes))
            return S_BLOCK;
        if (L.acc_bits < 2 || L.acc_bits > B.acc_bits) return S_CONST;
        // a packed engine (PACK = 2, pack.h) multiplies int8 weights by 8-bit activations only
        if (B.pack == 2 && (L.weights.dtype != D_INT8 || (x.dtype != D_INT8 && x.dtype != D_UINT8))) return S_ENGINE;
    } else if (window || L.kind == K_ADD || L.kind == K_REQUANT || L.kind == K_LUT) {
        if (x.c != o.c) return S_GEOMETRY;
    }
    if (L.kind == K_ADD || L.kind == K_REQUANT || L.kind == K_LUT) {
        for (int i = 0; i < L.n_inputs; i++)
            if (!same_shape(L.in[i], o)) return S_GEOMETRY;
    }
    if (global && (o.h != 1 || o.w != 1 || o.c != x.c)) return S_GEOMETRY;
    if (L.kind == K_MUL) {  // the map of the output's shape; the second of it too, or a 1x1xC channel gate
        const View& g = L.in[1];
        if (!same_shape(x, o) || !(same_shape(g, o) || (g.h == 1 && g.w == 1 && g.c == o.c))) return S_GEOMETRY;
        if (!mult_ok(L.m) || !shift_ok(L.shift) || !small(L.zp[0]) || !small(L.zp[1])) return S_CONST;
    }
    if (L.kind == K_AVGPOOL &&
        (!block_ok(L.mblk, (uint64_t)oh * ow, D_INT32, D_INT32, B.weights_bytes) ||
         !block_ok(L.sblk, (uint64_t)oh * ow, D_INT8, D_INT8, B.weights_bytes)))
        return S_BLOCK;
    if (L.kind == K_REQUANT &&
        (!block_ok(L.pre, (uint64_t)x.c, D_INT32, D_INT32, B.weights_bytes) ||
         !block_ok(L.mblk, (uint64_t)x.c, D_INT32, D_INT32, B.weights_bytes) ||
         !block_ok(L.sblk, (uint64_t)x.c, D_INT8, D_INT8, B.weights_bytes)))
        return S_BLOCK;
    if (L.kind == K_LUT && !lut_ok(L.table, L.entries, L.in_min, B.lut_entries, B.weights_bytes)) return S_BLOCK;
    if (L.kind == K_GLOBAL_AVGPOOL && ((int64_t)L.divisor != (int64_t)x.h * x.w || !mult_ok(L.m) || !shift_ok(L.shift))) return S_CONST;
    if (L.kind == K_ADD) {
        if (!shift_ok(L.shift)) return S_CONST;
        for (int i = 0; i < L.n_inputs; i++)
            if (L.mult[i] <= -(1 << 17) || L.mult[i] >= (1 << 17) || !small(L.zp[i])) return S_CONST;
    }
    if (!small(L.pad_in) || !small(L.zp_out) || !small(L.lo) || !small(L.hi) || L.lo > L.hi) return S_CONST;
    // post stages: at most one residual add (each output-path lane has one adder's multiplies, output_path.h)
    int adds = 0;
    for (int j = 0; j < L.n_post; j++) {
        const Post& p = L.post[j];
        if (p.op == POST_ADD && ++adds > 1) return S_KIND;
        if (p.op == POST_LUT) {
            if (!lut_ok(p.table, p.entries, p.in_min, B.lut_entries, B.weights_bytes)) return S_BLOCK;
        } else if (p.op == POST_ADD) {
            if (!view_ok(p.residual, B.act_bytes)) return S_VIEW;
            if (!same_shape(p.residual, o) || p.self_index < 0 || p.self_index > 1) return S_GEOMETRY;
            if (!shift_ok(p.shift) || !small(p.zp_out) || !small(p.lo) || !small(p.hi) || p.lo > p.hi) return S_CONST;
            for (int n = 0; n < 2; n++)
                if (p.mult[n] <= -(1 << 17) || p.mult[n] >= (1 << 17) || !small(p.zp[n])) return S_CONST;
        } else {
            return S_KIND;
        }
    }
    // tiles against Tm, Tn and the on-chip buffers (one half of each double buffer)
    const int th = global ? x.h : o.h, tw = global ? x.w : o.w;
    if (L.tm < 1 || L.tm > B.tm || L.tn < 1 || L.tn > B.tn || L.rows < 1 || L.rows > th || L.cols < 1 || L.cols > tw)
        return S_TILE;
    uint64_t in_need, w_need = 0, out_need = (uint64_t)L.rows * L.cols * L.tm;
    if (window) {
        const uint64_t area = (uint64_t)halo(L.rows, L.sh, L.dh, L.kh) * halo(L.cols, L.sw, L.dw, L.kw);
        const bool depthwise = conv && L.groups > 1 && L.cg == 1;
        in_need = area * (conv && !depthwise ? L.tn : L.tm);
        if (sampled_input(L)) in_need = (uint64_t)L.rows * L.cols * L.tn;
        if (conv) w_need = (uint64_t)L.kh * L.kw * L.tm * (depthwise ? 1 : L.tn);
        if (tap_parallel(L, B.input_buffer, B.weight_buffer)) in_need = w_need = 0;  // its rule holds both buffers
    } else {
        in_need = (uint64_t)L.rows * L.cols * L.tm;
        if (global) out_need = L.tm;
    }
    if (in_need > (uint64_t)B.input_buffer || w_need > (uint64_t)B.weight_buffer || out_need > (uint64_t)B.output_buffer)
        return S_TILE;
    return S_OK;
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_CHECKS_H
