// fpga-accel HLS library, tiled engine: the program's binary records.
//
// Record 0 is the header, then one record of RECORD_WORDS 32-bit words per layer (written by
// fpga_accel/tiled/descriptors.py; the word positions below mirror its HEADER, LAYER, VIEW, BLOCK and
// POST tables, and a test compares the two). Signed fields are two's complement; addresses are byte
// offsets into the weights arena (blocks) or the activation arena (views). decode_layer() turns a
// record copied on chip into a Layer without checking anything: tiled/checks.h bounds every field
// before the engine uses it.
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
    L_CSTRIDE = 58, L_OUT_CSTRIDE = 62,  // channel strides of the input views and the output (0: contiguous)
    L_INPUTS = 64, L_OUTPUT = 88, L_POST = 96
};
enum PostWord {
    P_OP = 0, P_TABLE = 1, P_ENTRIES = 4, P_IN_MIN = 5, P_SELF_INDEX = 6, P_MULT = 7, P_ZP = 9, P_SHIFT = 11,
    P_ZP_OUT = 12, P_LO = 13, P_HI = 14, P_RESIDUAL = 15, P_CSTRIDE = 21, POST_WORDS = 24
};
enum Kind {
    K_CONV = 1, K_GEMM = 2, K_ADD = 3, K_MAXPOOL = 4, K_AVGPOOL = 5, K_GLOBAL_AVGPOOL = 6, K_GLOBAL_MAXPOOL = 7,
    K_REQUANT = 8, K_LUT = 9, K_MUL = 10
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

// element (y, x, ch) at offset + ((y*w + x)*ps + ch*cs)*itemsize
struct View {
    uint64_t offset;
    int h, w, c, ps, cs, dtype;
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

inline View decode_view(const uint32_t* w, uint32_t cstride) {
    View v;
    v.cs = cstride ? (int)cstride : 1;
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
        L.in[i] = decode_view(rec + L_INPUTS + i * VIEW_WORDS, rec[L_CSTRIDE + i]);
    }
    L.weights = decode_block(rec + L_WEIGHTS);
    L.bias = decode_block(rec + L_BIAS);
    L.mblk = decode_block(rec + L_M_BLOCK);
    L.sblk = decode_block(rec + L_SHIFT_BLOCK);
    L.pre = decode_block(rec + L_PRE);
    L.table = decode_block(rec + L_TABLE);
    L.out = decode_view(rec + L_OUTPUT, rec[L_OUT_CSTRIDE]);
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
        s.residual = decode_view(p + P_RESIDUAL, p[P_CSTRIDE]);
    }
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_DESCRIPTOR_H
