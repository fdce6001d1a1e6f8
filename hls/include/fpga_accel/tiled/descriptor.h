// fpga-accel HLS library, tiled engine: the program's binary records and the checks that bound them.
//
// Record 0 is the header, then one record of RECORD_WORDS 32-bit words per layer (written by
// fpga_accel/tiled/descriptors.py; the word positions below mirror its HEADER, LAYER, VIEW, BLOCK and
// POST tables, and a test compares the two). Signed fields are two's complement; addresses are byte
// offsets into the weights arena (blocks) or the activation arena (views).
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
// as they are used and stop the engine with a status naming the layer.
#ifndef FA_TILED_DESCRIPTOR_H
#define FA_TILED_DESCRIPTOR_H

#include <stdint.h>

namespace fa {
namespace tiled {

static const uint32_t MAGIC = 0x4C544146;  // "FATL"
static const uint32_t VERSION = 1;
static const int RECORD_WORDS = 192;
static const int MAX_INPUTS = 4;
static const int MAX_POST = 4;
static const int MAX_DIM = 1 << 16;
static const int MAX_CHANNELS = 1 << 24;
static const int MAX_KERNEL = 64;

enum Header {
    H_MAGIC = 0, H_VERSION = 1, H_RECORD_WORDS = 2, H_LAYERS = 3, H_TM = 4, H_TN = 5, H_INPUT_BUFFER = 6,
    H_WEIGHT_BUFFER = 7, H_OUTPUT_BUFFER = 8, H_WEIGHTS_BYTES = 9, H_ACTIVATIONS_BYTES = 10
};
enum ViewWord { V_OFFSET = 0, V_H = 1, V_W = 2, V_C = 3, V_PIXEL_STRIDE = 4, V_DTYPE = 5, VIEW_WORDS = 6 };
enum BlockWord { B_OFFSET = 0, B_COUNT = 1, B_DTYPE = 2, BLOCK_WORDS = 3 };
enum LayerWord {
    L_KIND = 0, L_N_INPUTS = 1, L_TILE_TM = 2, L_TILE_TN = 3, L_TILE_ROWS = 4, L_TILE_COLS = 5,
    L_KH = 6, L_KW = 7, L_SH = 8, L_SW = 9, L_DH = 10, L_DW = 11, L_PAD_T = 12, L_PAD_L = 13,
    L_GROUPS = 14, L_CIN_PER_GROUP = 15, L_COUT_PER_GROUP = 16,
    L_PAD_IN = 17, L_ZP_OUT = 18, L_LO = 19, L_HI = 20, L_ACC_BITS = 21, L_SHIFT = 22, L_M = 23, L_DIVISOR = 24,
    L_N_POST = 25, L_ENTRIES = 26, L_IN_MIN = 27, L_MULT = 28, L_ZP = 32, L_PAD_B = 36, L_PAD_R = 37,
    L_WEIGHTS = 40, L_BIAS = 43, L_M_BLOCK = 46, L_SHIFT_BLOCK = 49, L_PRE = 52, L_TABLE = 55,
    L_INPUTS = 64, L_OUTPUT = 88, L_POST = 96
};
enum PostWord {
    P_OP = 0, P_TABLE = 1, P_ENTRIES = 4, P_IN_MIN = 5, P_SELF_INDEX = 6, P_MULT = 7, P_ZP = 9, P_SHIFT = 11,
    P_ZP_OUT = 12, P_LO = 13, P_HI = 14, P_RESIDUAL = 15, POST_WORDS = 24
};
enum Kind {
    K_CONV = 1, K_GEMM = 2, K_ADD = 3, K_MAXPOOL = 4, K_AVGPOOL = 5, K_GLOBAL_AVGPOOL = 6, K_GLOBAL_MAXPOOL = 7,
    K_REQUANT = 8, K_LUT = 9
};
enum PostOp { POST_LUT = 1, POST_ADD = 2 };
enum Dtype { D_INT8 = 0, D_UINT8 = 1, D_INT16 = 2, D_UINT16 = 3, D_INT32 = 4, D_INT64 = 5 };

// The engine's status register: 0, or a code in the low 8 bits and the layer index above them.
enum Status {
    S_OK = 0,
    S_HEADER = 1,    // bad magic, version, record size, or more layers than the descriptor array holds
    S_ENGINE = 2,    // built for another Tm, Tn or buffer sizes, or arenas larger than the ones given
    S_KIND = 3,      // unknown layer kind, input count or post stage
    S_VIEW = 4,      // a view outside the activation arena, misaligned, empty or of an unknown type
    S_BLOCK = 5,     // a block outside the weights arena, or of the wrong count or type
    S_GEOMETRY = 6,  // shapes, groups or window that do not fit together
    S_TILE = 7,      // a tile larger than Tm, Tn or an on-chip buffer
    S_ACC = 8,       // a partial sum outside the layer's acc_bits
    S_LUT_INDEX = 9, // a lookup outside its table
    S_RANGE = 10,    // a result outside the output's type (clamp bounds wrong)
    S_CONST = 11     // a constant outside the contract (shift, M, acc_bits)
};
inline unsigned status(int code, int layer) { return code ? (unsigned)code | ((unsigned)layer << 8) : 0u; }

struct View {
    uint64_t offset;
    int h, w, c, ps, dtype;
};
struct Block {
    uint64_t offset;
    uint32_t count;
    int dtype;
};
struct Post {
    int op, entries, in_min, self_index, shift, zp_out, lo, hi;
    int mult[2], zp[2];
    Block table;
    View residual;
};
struct Layer {
    int kind, n_inputs, tm, tn, rows, cols;
    int kh, kw, sh, sw, dh, dw, pad_t, pad_l, pad_b, pad_r, groups, cg, mg;
    int pad_in, zp_out, lo, hi, acc_bits, shift, m, divisor, n_post, entries, in_min;
    int mult[MAX_INPUTS], zp[MAX_INPUTS];
    Block weights, bias, mblk, sblk, pre, table;
    View in[MAX_INPUTS], out;
    Post post[MAX_POST];
};

inline int itemsize(int dtype) { return dtype == D_INT64 ? 8 : dtype == D_INT32 ? 4 : dtype >= D_INT16 ? 2 : 1; }
inline int64_t dtype_min(int dtype) {
    return dtype == D_INT8 ? -128 : dtype == D_INT16 ? -32768 : dtype == D_INT32 ? -(1LL << 31) : dtype == D_INT64 ? INT64_MIN : 0;
}
inline int64_t dtype_max(int dtype) {
    return dtype == D_INT8 ? 127 : dtype == D_UINT8 ? 255 : dtype == D_INT16 ? 32767 : dtype == D_UINT16 ? 65535
           : dtype == D_INT32 ? (1LL << 31) - 1 : INT64_MAX;
}

inline View decode_view(const uint32_t* w) {
    View v;
    v.offset = w[V_OFFSET];
    v.h = (int)w[V_H];
    v.w = (int)w[V_W];
    v.c = (int)w[V_C];
    v.ps = (int)w[V_PIXEL_STRIDE];
    v.dtype = (int)w[V_DTYPE];
    return v;
}
inline Block decode_block(const uint32_t* w) {
    Block b;
    b.offset = w[B_OFFSET];
    b.count = w[B_COUNT];
    b.dtype = (int)w[B_DTYPE];
    return b;
}

// A record already copied on chip → its fields (no checks: check_layer() bounds them).
inline void decode_layer(const uint32_t rec[RECORD_WORDS], Layer& L) {
    L.kind = (int)rec[L_KIND];
    L.n_inputs = (int)rec[L_N_INPUTS];
    L.tm = (int)rec[L_TILE_TM];
    L.tn = (int)rec[L_TILE_TN];
    L.rows = (int)rec[L_TILE_ROWS];
    L.cols = (int)rec[L_TILE_COLS];
    L.kh = (int)rec[L_KH];
    L.kw = (int)rec[L_KW];
    L.sh = (int)rec[L_SH];
    L.sw = (int)rec[L_SW];
    L.dh = (int)rec[L_DH];
    L.dw = (int)rec[L_DW];
    L.pad_t = (int)rec[L_PAD_T];
    L.pad_l = (int)rec[L_PAD_L];
    L.pad_b = (int)rec[L_PAD_B];
    L.pad_r = (int)rec[L_PAD_R];
    L.groups = (int)rec[L_GROUPS];
    L.cg = (int)rec[L_CIN_PER_GROUP];
    L.mg = (int)rec[L_COUT_PER_GROUP];
    L.pad_in = (int)rec[L_PAD_IN];
    L.zp_out = (int)rec[L_ZP_OUT];
    L.lo = (int)rec[L_LO];
    L.hi = (int)rec[L_HI];
    L.acc_bits = (int)rec[L_ACC_BITS];
    L.shift = (int)rec[L_SHIFT];
    L.m = (int)rec[L_M];
    L.divisor = (int)rec[L_DIVISOR];
    L.n_post = (int)rec[L_N_POST];
    L.entries = (int)rec[L_ENTRIES];
    L.in_min = (int)rec[L_IN_MIN];
    for (int i = 0; i < MAX_INPUTS; i++) {
        L.mult[i] = (int)rec[L_MULT + i];
        L.zp[i] = (int)rec[L_ZP + i];
        L.in[i] = decode_view(rec + L_INPUTS + i * VIEW_WORDS);
    }
    L.weights = decode_block(rec + L_WEIGHTS);
    L.bias = decode_block(rec + L_BIAS);
    L.mblk = decode_block(rec + L_M_BLOCK);
    L.sblk = decode_block(rec + L_SHIFT_BLOCK);
    L.pre = decode_block(rec + L_PRE);
    L.table = decode_block(rec + L_TABLE);
    L.out = decode_view(rec + L_OUTPUT);
    for (int j = 0; j < MAX_POST; j++) {
        const uint32_t* p = rec + L_POST + j * POST_WORDS;
        Post& s = L.post[j];
        s.op = (int)p[P_OP];
        s.table = decode_block(p + P_TABLE);
        s.entries = (int)p[P_ENTRIES];
        s.in_min = (int)p[P_IN_MIN];
        s.self_index = (int)p[P_SELF_INDEX];
        s.shift = (int)p[P_SHIFT];
        s.zp_out = (int)p[P_ZP_OUT];
        s.lo = (int)p[P_LO];
        s.hi = (int)p[P_HI];
        for (int n = 0; n < 2; n++) {
            s.mult[n] = (int)p[P_MULT + n];
            s.zp[n] = (int)p[P_ZP + n];
        }
        s.residual = decode_view(p + P_RESIDUAL);
    }
}

// --- checks ---------------------------------------------------------------------------------------
// Sizes of the engine the program runs on, and of the arenas it was started with (bytes).
struct Bounds {
    int tm, tn, input_buffer, weight_buffer, output_buffer, acc_bits, lut_entries;
    uint64_t weights_bytes, act_bytes;
};

inline bool view_ok(const View& v, uint64_t act_bytes) {
    if (v.dtype < D_INT8 || v.dtype > D_UINT16) return false;
    if (v.h < 1 || v.h > MAX_DIM || v.w < 1 || v.w > MAX_DIM || v.c < 1 || v.c > MAX_CHANNELS) return false;
    if (v.ps < v.c || v.ps > MAX_CHANNELS || v.offset % itemsize(v.dtype)) return false;
    // < 2^32 pixels × < 2^24 stride × 2 bytes: no overflow in 64 bits
    const uint64_t end = v.offset + ((uint64_t)v.h * v.w - 1) * v.ps * itemsize(v.dtype) + (uint64_t)v.c * itemsize(v.dtype);
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
inline int check_layer(const Layer& L, const Bounds& B) {
    const bool conv = L.kind == K_CONV || L.kind == K_GEMM;
    const bool window = conv || L.kind == K_MAXPOOL || L.kind == K_AVGPOOL;
    const bool global = L.kind == K_GLOBAL_AVGPOOL || L.kind == K_GLOBAL_MAXPOOL;
    if (L.kind < K_CONV || L.kind > K_LUT) return S_KIND;
    if (L.n_inputs < 1 || L.n_inputs > (L.kind == K_ADD ? MAX_INPUTS : 1) || (L.kind == K_ADD && L.n_inputs < 2))
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
    } else if (window || L.kind == K_ADD || L.kind == K_REQUANT || L.kind == K_LUT) {
        if (x.c != o.c) return S_GEOMETRY;
    }
    if (L.kind == K_ADD || L.kind == K_REQUANT || L.kind == K_LUT) {
        for (int i = 0; i < L.n_inputs; i++)
            if (!same_shape(L.in[i], o)) return S_GEOMETRY;
    }
    if (global && (o.h != 1 || o.w != 1 || o.c != x.c)) return S_GEOMETRY;
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
    // post stages
    for (int j = 0; j < L.n_post; j++) {
        const Post& p = L.post[j];
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
        if (conv) w_need = (uint64_t)L.kh * L.kw * L.tm * (depthwise ? 1 : L.tn);
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

#endif  // FA_TILED_DESCRIPTOR_H
