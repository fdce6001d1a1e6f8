// fpga-accel: the tiled engine's OpenCL twin, part 1 of 3 (opencl_engine.cl says what the twin is):
// the engine configuration (the FA_TILED_* macros of tiled/top.h, given as build options) and the
// program's binary records, word positions mirroring hls/include/fpga_accel/tiled/descriptor.h
// (fpga_accel/tiled/descriptors.py writes them). decode_layer() checks nothing: opencl_checks.cl does.
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
#ifndef FA_TILED_LUT_ENTRIES
#define FA_TILED_LUT_ENTRIES 4096
#endif
#ifndef FA_TILED_UNITS
#define FA_TILED_UNITS 31
#endif
#if FA_TILED_TM < 1 || FA_TILED_TN < 1 || FA_TILED_ACC_BITS < 2 || FA_TILED_ACC_BITS > 46
#error "the array needs a lane each way, and accumulators of 2..46 bits (acc * M must fit 63 bits)"
#endif

#define MAGIC 0x4C544146u
#define VERSION 1u
#define RECORD_WORDS 192
#define MAX_INPUTS 4
#define MAX_POST 4
#define MAX_DIM (1 << 16)
#define MAX_CHANNELS (1 << 24)
#define MAX_KERNEL 64
#define MULT_BITS 17

enum { H_MAGIC = 0, H_VERSION = 1, H_RECORD_WORDS = 2, H_LAYERS = 3, H_TM = 4, H_TN = 5, H_INPUT_BUFFER = 6,
       H_WEIGHT_BUFFER = 7, H_OUTPUT_BUFFER = 8, H_WEIGHTS_BYTES = 9, H_ACTIVATIONS_BYTES = 10 };
enum { V_OFFSET = 0, V_H = 1, V_W = 2, V_C = 3, V_PIXEL_STRIDE = 4, V_DTYPE = 5, VIEW_WORDS = 6 };
enum { B_OFFSET = 0, B_COUNT = 1, B_DTYPE = 2 };
enum { L_KIND = 0, L_N_INPUTS = 1, L_TILE_TM = 2, L_TILE_TN = 3, L_TILE_ROWS = 4, L_TILE_COLS = 5, L_KH = 6,
       L_KW = 7, L_SH = 8, L_SW = 9, L_DH = 10, L_DW = 11, L_PAD_T = 12, L_PAD_L = 13, L_GROUPS = 14,
       L_CIN_PER_GROUP = 15, L_COUT_PER_GROUP = 16, L_PAD_IN = 17, L_ZP_OUT = 18, L_LO = 19, L_HI = 20,
       L_ACC_BITS = 21, L_SHIFT = 22, L_M = 23, L_DIVISOR = 24, L_N_POST = 25, L_ENTRIES = 26, L_IN_MIN = 27,
       L_MULT = 28, L_ZP = 32, L_PAD_B = 36, L_PAD_R = 37, L_WEIGHTS = 40, L_BIAS = 43, L_M_BLOCK = 46,
       L_SHIFT_BLOCK = 49, L_PRE = 52, L_TABLE = 55, L_CSTRIDE = 58, L_OUT_CSTRIDE = 62, L_INPUTS = 64,
       L_OUTPUT = 88, L_POST = 96 };
enum { P_OP = 0, P_TABLE = 1, P_ENTRIES = 4, P_IN_MIN = 5, P_SELF_INDEX = 6, P_MULT = 7, P_ZP = 9, P_SHIFT = 11,
       P_ZP_OUT = 12, P_LO = 13, P_HI = 14, P_RESIDUAL = 15, P_CSTRIDE = 21, POST_WORDS = 24 };
enum { K_CONV = 1, K_GEMM = 2, K_ADD = 3, K_MAXPOOL = 4, K_AVGPOOL = 5, K_GLOBAL_AVGPOOL = 6, K_GLOBAL_MAXPOOL = 7,
       K_REQUANT = 8, K_LUT = 9, K_MUL = 10 };
enum { POST_LUT = 1, POST_ADD = 2 };
enum { D_INT8 = 0, D_UINT8 = 1, D_INT16 = 2, D_UINT16 = 3, D_INT32 = 4, D_INT64 = 5 };
enum { S_OK = 0, S_HEADER = 1, S_ENGINE = 2, S_KIND = 3, S_VIEW = 4, S_BLOCK = 5, S_GEOMETRY = 6, S_TILE = 7,
       S_ACC = 8, S_LUT_INDEX = 9, S_RANGE = 10, S_CONST = 11 };

// element (y, x, ch) at offset + ((y*w + x)*ps + ch*cs)*itemsize
typedef struct { ulong offset; int h, w, c, ps, cs, dtype; } View;
typedef struct { ulong offset; uint count; int dtype; } Block;
typedef struct {
    int op, entries, in_min, self_index, shift, zp_out, lo, hi;
    int mult[2], zp[2];
    Block table;
    View residual;
} Post;
typedef struct {
    int kind, n_inputs, tm, tn, rows, cols;
    int kh, kw, sh, sw, dh, dw, pad_t, pad_l, pad_b, pad_r, groups, cg, mg;
    int pad_in, zp_out, lo, hi, acc_bits, shift, m, divisor, n_post, entries, in_min;
    int mult[MAX_INPUTS], zp[MAX_INPUTS];
    Block weights, bias, mblk, sblk, pre, table;
    View in[MAX_INPUTS], out;
    Post post[MAX_POST];
} Layer;
typedef __global const uint* desc_p;
typedef __global const uchar* weights_p;
typedef __global uchar* acts_p;

int itemsize(int dt) { return dt == D_INT64 ? 8 : dt == D_INT32 ? 4 : dt >= D_INT16 ? 2 : 1; }
long dtype_min(int dt) {
    return dt == D_INT8 ? -128 : dt == D_INT16 ? -32768 : dt == D_INT32 ? -2147483648L : dt == D_INT64 ? LONG_MIN : 0;
}
long dtype_max(int dt) {
    return dt == D_INT8 ? 127 : dt == D_UINT8 ? 255 : dt == D_INT16 ? 32767 : dt == D_UINT16 ? 65535
           : dt == D_INT32 ? 2147483647L : LONG_MAX;
}

// a view's channel stride has its own word (cstride; 0 means 1: contiguous channels)
View decode_view(desc_p w, uint cstride) {
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
Block decode_block(desc_p w) {
    Block b;
    b.offset = w[B_OFFSET];
    b.count = w[B_COUNT];
    b.dtype = (int)w[B_DTYPE];
    return b;
}
void decode_layer(desc_p r, Layer* L) {
    L->kind = (int)r[L_KIND];
    L->n_inputs = (int)r[L_N_INPUTS];
    L->tm = (int)r[L_TILE_TM];
    L->tn = (int)r[L_TILE_TN];
    L->rows = (int)r[L_TILE_ROWS];
    L->cols = (int)r[L_TILE_COLS];
    L->kh = (int)r[L_KH];
    L->kw = (int)r[L_KW];
    L->sh = (int)r[L_SH];
    L->sw = (int)r[L_SW];
    L->dh = (int)r[L_DH];
    L->dw = (int)r[L_DW];
    L->pad_t = (int)r[L_PAD_T];
    L->pad_l = (int)r[L_PAD_L];
    L->pad_b = (int)r[L_PAD_B];
    L->pad_r = (int)r[L_PAD_R];
    L->groups = (int)r[L_GROUPS];
    L->cg = (int)r[L_CIN_PER_GROUP];
    L->mg = (int)r[L_COUT_PER_GROUP];
    L->pad_in = (int)r[L_PAD_IN];
    L->zp_out = (int)r[L_ZP_OUT];
    L->lo = (int)r[L_LO];
    L->hi = (int)r[L_HI];
    L->acc_bits = (int)r[L_ACC_BITS];
    L->shift = (int)r[L_SHIFT];
    L->m = (int)r[L_M];
    L->divisor = (int)r[L_DIVISOR];
    L->n_post = (int)r[L_N_POST];
    L->entries = (int)r[L_ENTRIES];
    L->in_min = (int)r[L_IN_MIN];
    for (int i = 0; i < MAX_INPUTS; i++) {
        L->mult[i] = (int)r[L_MULT + i];
        L->zp[i] = (int)r[L_ZP + i];
        L->in[i] = decode_view(r + L_INPUTS + i * VIEW_WORDS, r[L_CSTRIDE + i]);
    }
    L->weights = decode_block(r + L_WEIGHTS);
    L->bias = decode_block(r + L_BIAS);
    L->mblk = decode_block(r + L_M_BLOCK);
    L->sblk = decode_block(r + L_SHIFT_BLOCK);
    L->pre = decode_block(r + L_PRE);
    L->table = decode_block(r + L_TABLE);
    L->out = decode_view(r + L_OUTPUT, r[L_OUT_CSTRIDE]);
    for (int j = 0; j < MAX_POST; j++) {
        desc_p p = r + L_POST + j * POST_WORDS;
        L->post[j].op = (int)p[P_OP];
        L->post[j].table = decode_block(p + P_TABLE);
        L->post[j].entries = (int)p[P_ENTRIES];
        L->post[j].in_min = (int)p[P_IN_MIN];
        L->post[j].self_index = (int)p[P_SELF_INDEX];
        L->post[j].shift = (int)p[P_SHIFT];
        L->post[j].zp_out = (int)p[P_ZP_OUT];
        L->post[j].lo = (int)p[P_LO];
        L->post[j].hi = (int)p[P_HI];
        for (int n = 0; n < 2; n++) {
            L->post[j].mult[n] = (int)p[P_MULT + n];
            L->post[j].zp[n] = (int)p[P_ZP + n];
        }
        L->post[j].residual = decode_view(p + P_RESIDUAL, p[P_CSTRIDE]);
    }
}
