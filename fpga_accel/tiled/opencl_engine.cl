// fpga-accel: the tiled engine's OpenCL twin. It runs the binary program (fpga_accel/tiled/descriptors.py)
// over the two arenas exactly as the HLS engine does (hls/include/fpga_accel/tiled_engine.h): the same
// checks of every header and layer field before anything runs (tiled/checks.h), the same integers
// (tiled/conv.h, pool.h, eltwise.h, output_path.h, requant.h), the same status word (code in the low
// 8 bits, layer index above them). It exists to verify the engine on any OpenCL device (PoCL in the
// tests) and to give the host the argument list the engine's xclbin exposes:
//
//   fa_tiled_top(desc, desc_words, weights, weights_bytes, acts, act_bytes, status)
//
// the arguments of tiled/top.h in its order, with its return value as a one-word `status` buffer
// (an OpenCL kernel returns nothing). The engine configuration is the same FA_TILED_* macros, given
// as build options; a program built for another one is refused (status 2).
//
// One work-group runs the program: its work-items share each layer's outputs (pixels x channels,
// strided by the work-group size) and meet at a barrier between layers, so any work-group size works,
// 1 included (an xclbin's task). Each output is computed whole (no on-chip tiles), but its partial
// sums are checked against acc_bits after every Tn channels (dense) or Tn taps (depthwise), where the
// HLS engine checks them, so the same programs fail. When a layer fails in more than one way at run
// time, the code reported is one of them (work-items finish in any order), and the arena holds some of
// that layer's outputs.
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

// --- the records (descriptor.h) -----------------------------------------------------------------
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
       L_SHIFT_BLOCK = 49, L_PRE = 52, L_TABLE = 55, L_INPUTS = 64, L_OUTPUT = 88, L_POST = 96 };
enum { P_OP = 0, P_TABLE = 1, P_ENTRIES = 4, P_IN_MIN = 5, P_SELF_INDEX = 6, P_MULT = 7, P_ZP = 9, P_SHIFT = 11,
       P_ZP_OUT = 12, P_LO = 13, P_HI = 14, P_RESIDUAL = 15, POST_WORDS = 24 };
enum { K_CONV = 1, K_GEMM = 2, K_ADD = 3, K_MAXPOOL = 4, K_AVGPOOL = 5, K_GLOBAL_AVGPOOL = 6, K_GLOBAL_MAXPOOL = 7,
       K_REQUANT = 8, K_LUT = 9 };
enum { POST_LUT = 1, POST_ADD = 2 };
enum { D_INT8 = 0, D_UINT8 = 1, D_INT16 = 2, D_UINT16 = 3, D_INT32 = 4, D_INT64 = 5 };
enum { S_OK = 0, S_HEADER = 1, S_ENGINE = 2, S_KIND = 3, S_VIEW = 4, S_BLOCK = 5, S_GEOMETRY = 6, S_TILE = 7,
       S_ACC = 8, S_LUT_INDEX = 9, S_RANGE = 10, S_CONST = 11 };

typedef struct { ulong offset; int h, w, c, ps, dtype; } View;
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

View decode_view(desc_p w) {
    View v;
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
        L->in[i] = decode_view(r + L_INPUTS + i * VIEW_WORDS);
    }
    L->weights = decode_block(r + L_WEIGHTS);
    L->bias = decode_block(r + L_BIAS);
    L->mblk = decode_block(r + L_M_BLOCK);
    L->sblk = decode_block(r + L_SHIFT_BLOCK);
    L->pre = decode_block(r + L_PRE);
    L->table = decode_block(r + L_TABLE);
    L->out = decode_view(r + L_OUTPUT);
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
        L->post[j].residual = decode_view(p + P_RESIDUAL);
    }
}

// --- the checks (checks.h, field for field) -----------------------------------------------------
typedef struct {
    int tm, tn, input_buffer, weight_buffer, output_buffer, acc_bits, lut_entries;
    ulong weights_bytes, act_bytes;
} Bounds;

bool view_ok(View v, ulong act_bytes) {
    if (v.dtype < D_INT8 || v.dtype > D_UINT16) return false;
    if (v.h < 1 || v.h > MAX_DIM || v.w < 1 || v.w > MAX_DIM || v.c < 1 || v.c > MAX_CHANNELS) return false;
    if (v.ps < v.c || v.ps > MAX_CHANNELS || v.offset % itemsize(v.dtype)) return false;
    const ulong end = v.offset + ((ulong)v.h * v.w - 1) * v.ps * itemsize(v.dtype) + (ulong)v.c * itemsize(v.dtype);
    return end <= act_bytes;
}
bool same_shape(View a, View b) { return a.h == b.h && a.w == b.w && a.c == b.c; }
bool block_ok(Block b, ulong count, int lo_dtype, int hi_dtype, ulong weights_bytes) {
    if (b.dtype < lo_dtype || b.dtype > hi_dtype || b.count != count) return false;
    return b.offset + count * itemsize(b.dtype) <= weights_bytes;
}
int window_out(int size, int k, int s, int d, int pads) {
    const int span = size + pads - (k - 1) * d - 1;
    return span < 0 ? 0 : span / s + 1;
}
int halo(int n, int s, int d, int k) { return (n - 1) * s + (k - 1) * d + 1; }
bool pad_ok(int p) { return p >= 0 && p <= MAX_KERNEL * MAX_KERNEL; }
bool shift_ok(int s) { return s >= 1 && s <= 62; }
bool mult_ok(long m) { return m >= 0 && m < (1 << MULT_BITS); }
bool small_ok(int v) { return v >= -(1 << 16) && v <= (1 << 16); }
bool lut_ok(Block t, int entries, int in_min, int lut_entries, ulong weights_bytes) {
    if (entries < 4 || entries > lut_entries || (entries & (entries - 1)) || in_min > 0 || in_min < -(1 << 15))
        return false;
    return block_ok(t, (ulong)entries, D_INT8, D_UINT16, weights_bytes);
}

int check_header(desc_p h, ulong desc_words, const Bounds* B) {
    if (desc_words < (ulong)RECORD_WORDS || h[H_MAGIC] != MAGIC || h[H_VERSION] != VERSION ||
        h[H_RECORD_WORDS] != (uint)RECORD_WORDS || ((ulong)h[H_LAYERS] + 1UL) * RECORD_WORDS > desc_words)
        return S_HEADER;
    if ((int)h[H_TM] != B->tm || (int)h[H_TN] != B->tn || (int)h[H_INPUT_BUFFER] != B->input_buffer ||
        (int)h[H_WEIGHT_BUFFER] != B->weight_buffer || (int)h[H_OUTPUT_BUFFER] != B->output_buffer ||
        h[H_WEIGHTS_BYTES] > B->weights_bytes || h[H_ACTIVATIONS_BYTES] > B->act_bytes)
        return S_ENGINE;
    return S_OK;
}

int check_layer(const Layer* L, const Bounds* B) {
    const bool conv = L->kind == K_CONV || L->kind == K_GEMM;
    const bool window = conv || L->kind == K_MAXPOOL || L->kind == K_AVGPOOL;
    const bool is_global = L->kind == K_GLOBAL_AVGPOOL || L->kind == K_GLOBAL_MAXPOOL;
    if (L->kind < K_CONV || L->kind > K_LUT) return S_KIND;
    if (L->n_inputs < 1 || L->n_inputs > (L->kind == K_ADD ? MAX_INPUTS : 1) || (L->kind == K_ADD && L->n_inputs < 2))
        return S_KIND;
    if (L->n_post < 0 || L->n_post > MAX_POST) return S_KIND;
    for (int i = 0; i < L->n_inputs; i++)
        if (!view_ok(L->in[i], B->act_bytes)) return S_VIEW;
    if (!view_ok(L->out, B->act_bytes)) return S_VIEW;
    const View x = L->in[0], o = L->out;
    if (window) {
        if (L->kh < 1 || L->kh > MAX_KERNEL || L->kw < 1 || L->kw > MAX_KERNEL || L->sh < 1 || L->sh > MAX_KERNEL ||
            L->sw < 1 || L->sw > MAX_KERNEL || L->dh < 1 || L->dh > MAX_KERNEL || L->dw < 1 || L->dw > MAX_KERNEL ||
            !pad_ok(L->pad_t) || !pad_ok(L->pad_l) || !pad_ok(L->pad_b) || !pad_ok(L->pad_r))
            return S_GEOMETRY;
        if (o.h != window_out(x.h, L->kh, L->sh, L->dh, L->pad_t + L->pad_b) ||
            o.w != window_out(x.w, L->kw, L->sw, L->dw, L->pad_l + L->pad_r))
            return S_GEOMETRY;
    }
    if (conv) {
        if (L->groups < 1 || L->cg < 1 || L->mg < 1 || (ulong)L->groups * L->cg != (ulong)x.c ||
            (ulong)L->groups * L->mg != (ulong)o.c)
            return S_GEOMETRY;
        if (L->kind == K_GEMM && (L->kh != 1 || L->kw != 1 || L->sh != 1 || L->sw != 1 || L->pad_t || L->pad_l ||
                                  L->groups != 1 || x.h != o.h || x.w != o.w))
            return S_GEOMETRY;
        if (!block_ok(L->weights, (ulong)L->groups * L->mg * L->cg * L->kh * L->kw, D_INT8, D_INT16, B->weights_bytes) ||
            !block_ok(L->bias, (ulong)o.c, D_INT32, D_INT64, B->weights_bytes) ||
            !block_ok(L->mblk, (ulong)o.c, D_INT32, D_INT32, B->weights_bytes) ||
            !block_ok(L->sblk, (ulong)o.c, D_INT8, D_INT8, B->weights_bytes))
            return S_BLOCK;
        if (L->acc_bits < 2 || L->acc_bits > B->acc_bits) return S_CONST;
    } else if (window || L->kind == K_ADD || L->kind == K_REQUANT || L->kind == K_LUT) {
        if (x.c != o.c) return S_GEOMETRY;
    }
    if (L->kind == K_ADD || L->kind == K_REQUANT || L->kind == K_LUT) {
        for (int i = 0; i < L->n_inputs; i++)
            if (!same_shape(L->in[i], o)) return S_GEOMETRY;
    }
    if (is_global && (o.h != 1 || o.w != 1 || o.c != x.c)) return S_GEOMETRY;
    if (L->kind == K_AVGPOOL && (!block_ok(L->mblk, (ulong)o.h * o.w, D_INT32, D_INT32, B->weights_bytes) ||
                                 !block_ok(L->sblk, (ulong)o.h * o.w, D_INT8, D_INT8, B->weights_bytes)))
        return S_BLOCK;
    if (L->kind == K_REQUANT && (!block_ok(L->pre, (ulong)x.c, D_INT32, D_INT32, B->weights_bytes) ||
                                 !block_ok(L->mblk, (ulong)x.c, D_INT32, D_INT32, B->weights_bytes) ||
                                 !block_ok(L->sblk, (ulong)x.c, D_INT8, D_INT8, B->weights_bytes)))
        return S_BLOCK;
    if (L->kind == K_LUT && !lut_ok(L->table, L->entries, L->in_min, B->lut_entries, B->weights_bytes)) return S_BLOCK;
    if (L->kind == K_GLOBAL_AVGPOOL && ((long)L->divisor != (long)x.h * x.w || !mult_ok(L->m) || !shift_ok(L->shift)))
        return S_CONST;
    if (L->kind == K_ADD) {
        if (!shift_ok(L->shift)) return S_CONST;
        for (int i = 0; i < L->n_inputs; i++)
            if (L->mult[i] <= -(1 << 17) || L->mult[i] >= (1 << 17) || !small_ok(L->zp[i])) return S_CONST;
    }
    if (!small_ok(L->pad_in) || !small_ok(L->zp_out) || !small_ok(L->lo) || !small_ok(L->hi) || L->lo > L->hi)
        return S_CONST;
    for (int j = 0; j < L->n_post; j++) {
        const Post* p = &L->post[j];
        if (p->op == POST_LUT) {
            if (!lut_ok(p->table, p->entries, p->in_min, B->lut_entries, B->weights_bytes)) return S_BLOCK;
        } else if (p->op == POST_ADD) {
            if (!view_ok(p->residual, B->act_bytes)) return S_VIEW;
            if (!same_shape(p->residual, o) || p->self_index < 0 || p->self_index > 1) return S_GEOMETRY;
            if (!shift_ok(p->shift) || !small_ok(p->zp_out) || !small_ok(p->lo) || !small_ok(p->hi) || p->lo > p->hi)
                return S_CONST;
            for (int n = 0; n < 2; n++)
                if (p->mult[n] <= -(1 << 17) || p->mult[n] >= (1 << 17) || !small_ok(p->zp[n])) return S_CONST;
        } else {
            return S_KIND;
        }
    }
    const int th = is_global ? x.h : o.h, tw = is_global ? x.w : o.w;
    if (L->tm < 1 || L->tm > B->tm || L->tn < 1 || L->tn > B->tn || L->rows < 1 || L->rows > th || L->cols < 1 ||
        L->cols > tw)
        return S_TILE;
    ulong in_need, w_need = 0, out_need = (ulong)L->rows * L->cols * L->tm;
    if (window) {
        const ulong area = (ulong)halo(L->rows, L->sh, L->dh, L->kh) * halo(L->cols, L->sw, L->dw, L->kw);
        const bool depthwise = conv && L->groups > 1 && L->cg == 1;
        in_need = area * (conv && !depthwise ? L->tn : L->tm);
        if (conv) w_need = (ulong)L->kh * L->kw * L->tm * (depthwise ? 1 : L->tn);
    } else {
        in_need = (ulong)L->rows * L->cols * L->tm;
        if (is_global) out_need = L->tm;
    }
    if (in_need > (ulong)B->input_buffer || w_need > (ulong)B->weight_buffer || out_need > (ulong)B->output_buffer)
        return S_TILE;
    return S_OK;
}

// --- memory (memory.h): views are aligned to their type (checked), blocks need not be ---------
long load_view(acts_p a, ulong at, int dt) {
    switch (dt) {
        case D_INT8: return ((__global const char*)a)[at];
        case D_UINT8: return a[at];
        case D_INT16: return ((__global const short*)(a + at))[0];
        default: return ((__global const ushort*)(a + at))[0];
    }
}
void store_view(acts_p a, ulong at, int dt, long v) {
    if (dt <= D_UINT8) a[at] = (uchar)v;
    else ((__global ushort*)(a + at))[0] = (ushort)v;
}
ulong addr(const View* v, int y, int x, int c) {
    return v->offset + (((ulong)y * v->w + x) * v->ps + c) * itemsize(v->dtype);
}
long at(weights_p w, const Block* b, ulong i) {
    const int n = itemsize(b->dtype);
    const ulong a = b->offset + i * n;
    if (n == 1) return b->dtype == D_INT8 ? (long)(char)w[a] : (long)w[a];
    ulong u = 0;
    for (int k = 0; k < n; k++) u |= (ulong)w[a + k] << (8 * k);
    switch (b->dtype) {
        case D_INT16: return (short)u;
        case D_INT32: return (int)u;
        case D_INT64: return (long)u;
        default: return (long)u;
    }
}

// --- arithmetic (config.h, requant.h) ------------------------------------------------------------
bool fits(long v, int bits) {
    const long lim = 1L << (bits - 1);
    return v >= -lim && v < lim;
}
// out = clamp(zp + ((acc*M + 2^(shift-1)) >> shift), lo, hi); acc within ACC_BITS, so acc*M fits 63 bits
int requant(long acc, long m, int shift, int zp, int lo, int hi, int* status) {
    if (!mult_ok(m) || !shift_ok(shift)) {
        *status = S_CONST;
        return 0;
    }
    if (!fits(acc, FA_TILED_ACC_BITS)) {
        *status = S_ACC;
        return 0;
    }
    long q = 0;
    if (shift < FA_TILED_ACC_BITS + MULT_BITS) q = (acc * m + (1L << (shift - 1))) >> shift;
    long r = q + zp;
    r = r < lo ? lo : r;
    r = r > hi ? hi : r;
    return (int)r;
}

// --- the output path (output_path.h) --------------------------------------------------------------
long lookup(weights_p w, const Block* t, int entries, int in_min, long y, int* status) {
    const long i = y - in_min;
    if (i < 0 || i >= entries) {
        *status = S_LUT_INDEX;
        return 0;
    }
    return (int)at(w, t, (ulong)i);
}

int finish(const Layer* L, weights_p w, acts_p acts, long y, int r, int q, int ch) {
    int status = S_OK;
    for (int j = 0; j < L->n_post; j++) {
        const Post* p = &L->post[j];
        if (p->op == POST_LUT) {
            y = lookup(w, &p->table, p->entries, p->in_min, y, &status);
        } else {
            const long res = load_view(acts, addr(&p->residual, r, q, ch), p->residual.dtype);
            const long a = p->self_index == 0 ? y : res, c = p->self_index == 0 ? res : y;
            y = requant((a - p->zp[0]) * p->mult[0] + (c - p->zp[1]) * p->mult[1], 1, p->shift, p->zp_out, p->lo,
                        p->hi, &status);
        }
        if (status) return status;
    }
    if (y < dtype_min(L->out.dtype) || y > dtype_max(L->out.dtype)) return S_RANGE;
    store_view(acts, addr(&L->out, r, q, ch), L->out.dtype, y);
    return S_OK;
}

// --- the layers: one output element each (e: pixel-major, channels fastest) ---------------------
// conv/gemm (conv.h): dense and grouped in Tn-channel steps, depthwise in Tn-tap steps
int conv_out(const Layer* L, weights_p w, acts_p acts, int r, int q, int co) {
    const View* x = &L->in[0];
    const int k = L->kh * L->kw, gi = co / L->mg, ml = co - gi * L->mg;
    const int y0 = r * L->sh - L->pad_t, x0 = q * L->sw - L->pad_l;
    long acc = at(w, &L->bias, co);
    if (L->groups > 1 && L->cg == 1) {  // depthwise: the input channel co / mg, kernel co
        for (int t0 = 0; t0 < k; t0 += L->tn) {
            for (int t = t0; t < min(t0 + L->tn, k); t++) {
                const int iy = y0 + (t / L->kw) * L->dh, ix = x0 + (t % L->kw) * L->dw;
                const bool inside = iy >= 0 && iy < x->h && ix >= 0 && ix < x->w;
                const long v = inside ? load_view(acts, addr(x, iy, ix, gi), x->dtype) : L->pad_in;
                acc += v * at(w, &L->weights, (ulong)co * k + t);
            }
            if (!fits(acc, L->acc_bits)) return S_ACC;
        }
    } else {  // block (gi, Tm tile o0, Tn tile c0) at (gi*mg*cg + o0*cg + tmo*c0)*k, [tap][m][c] inside
        const int o0 = ml - ml % L->tm, tmo = min(L->tm, L->mg - o0), m = ml - o0;
        for (int c0 = 0; c0 < L->cg; c0 += L->tn) {
            const int cn = min(L->tn, L->cg - c0);
            const ulong base = ((ulong)gi * L->mg * L->cg + (ulong)o0 * L->cg + (ulong)tmo * c0) * k;
            for (int t = 0; t < k; t++) {
                const int iy = y0 + (t / L->kw) * L->dh, ix = x0 + (t % L->kw) * L->dw;
                if (iy < 0 || iy >= x->h || ix < 0 || ix >= x->w) {  // padding: zp_in on every channel
                    long ws = 0;
                    for (int c = 0; c < cn; c++) ws += at(w, &L->weights, base + (ulong)(t * tmo + m) * cn + c);
                    acc += (long)L->pad_in * ws;
                    continue;
                }
                const ulong a = addr(x, iy, ix, gi * L->cg + c0), wa = base + (ulong)(t * tmo + m) * cn;
                const int isz = itemsize(x->dtype);
                for (int c = 0; c < cn; c++)
                    acc += load_view(acts, a + (ulong)c * isz, x->dtype) * at(w, &L->weights, wa + c);
            }
            if (!fits(acc, L->acc_bits)) return S_ACC;
        }
    }
    int status = S_OK;
    const int y = requant(acc, (int)at(w, &L->mblk, co), (char)at(w, &L->sblk, co), L->zp_out, L->lo, L->hi, &status);
    return status ? status : finish(L, w, acts, y, r, q, co);
}

// maxpool / avgpool (pool.h): padding is pad_value (max) or zp_in (average)
int window_pool_out(const Layer* L, weights_p w, acts_p acts, int r, int q, int c) {
    const View* x = &L->in[0];
    const bool avg = L->kind == K_AVGPOOL;
    const int k = L->kh * L->kw, y0 = r * L->sh - L->pad_t, x0 = q * L->sw - L->pad_l;
    long v = avg ? 0 : dtype_min(x->dtype);
    for (int t = 0; t < k; t++) {
        const int iy = y0 + (t / L->kw) * L->dh, ix = x0 + (t % L->kw) * L->dw;
        const bool inside = iy >= 0 && iy < x->h && ix >= 0 && ix < x->w;
        const long e = inside ? load_view(acts, addr(x, iy, ix, c), x->dtype) : L->pad_in;
        v = avg ? v + e : (e > v ? e : v);
    }
    int status = S_OK;
    if (avg) {
        const ulong pos = (ulong)r * L->out.w + q;
        v = requant(v - (long)k * L->pad_in, (int)at(w, &L->mblk, pos), (char)at(w, &L->sblk, pos), L->zp_out, L->lo,
                    L->hi, &status);
    }
    return status ? status : finish(L, w, acts, v, r, q, c);
}

int global_pool_out(const Layer* L, weights_p w, acts_p acts, int c) {
    const View* x = &L->in[0];
    const bool avg = L->kind == K_GLOBAL_AVGPOOL;
    long s = avg ? 0 : dtype_min(x->dtype);
    for (int y = 0; y < x->h; y++)
        for (int xx = 0; xx < x->w; xx++) {
            const long v = load_view(acts, addr(x, y, xx, c), x->dtype);
            s = avg ? s + v : (v > s ? v : s);
        }
    int status = S_OK;
    if (avg) s = requant(s - (long)L->divisor * L->pad_in, L->m, L->shift, L->zp_out, L->lo, L->hi, &status);
    return status ? status : finish(L, w, acts, s, 0, 0, c);
}

// add / requant / lut (eltwise.h)
int eltwise_out(const Layer* L, weights_p w, acts_p acts, int r, int q, int ch) {
    int status = S_OK;
    const long v = load_view(acts, addr(&L->in[0], r, q, ch), L->in[0].dtype);
    long y;
    if (L->kind == K_ADD) {
        long acc = 0;
        for (int i = 0; i < L->n_inputs; i++) {
            const long qi = i ? load_view(acts, addr(&L->in[i], r, q, ch), L->in[i].dtype) : v;
            acc += (qi - L->zp[i]) * L->mult[i];
        }
        y = requant(acc, 1, L->shift, L->zp_out, L->lo, L->hi, &status);
    } else if (L->kind == K_REQUANT) {
        y = requant((v - L->pad_in) * (int)at(w, &L->pre, ch), (int)at(w, &L->mblk, ch), (char)at(w, &L->sblk, ch),
                    L->zp_out, L->lo, L->hi, &status);
    } else {
        y = lookup(w, &L->table, L->entries, L->in_min, v, &status);
    }
    return status ? status : finish(L, w, acts, y, r, q, ch);
}

// This work-item's share of layer L (outputs lid, lid + lsz, ...); S_OK or its first failure.
int run_share(const Layer* L, weights_p w, acts_p acts, uint lid, uint lsz, volatile __local int* failed) {
    const View* o = &L->out;
    const bool is_global = L->kind == K_GLOBAL_AVGPOOL || L->kind == K_GLOBAL_MAXPOOL;
    const ulong n = is_global ? (ulong)o->c : (ulong)o->h * o->w * o->c;
    for (ulong e = lid; e < n; e += lsz) {
        if (*failed) return S_OK;  // another work-item stopped the layer
        const int ch = (int)(e % o->c), pix = (int)(e / o->c), r = pix / o->w, q = pix % o->w;
        int code;
        switch (L->kind) {
            case K_CONV:
            case K_GEMM: code = conv_out(L, w, acts, r, q, ch); break;
            case K_MAXPOOL:
            case K_AVGPOOL: code = window_pool_out(L, w, acts, r, q, ch); break;
            case K_GLOBAL_AVGPOOL:
            case K_GLOBAL_MAXPOOL: code = global_pool_out(L, w, acts, ch); break;
            default: code = eltwise_out(L, w, acts, r, q, ch);
        }
        if (code) return code;
    }
    return S_OK;
}

uint status_word(int code, uint layer) { return code ? (uint)code | (layer << 8) : 0u; }

__kernel void fa_tiled_top(__global const uint* desc, uint desc_words, __global const uchar* weights,
                           uint weights_bytes, __global uchar* acts, uint act_bytes, __global uint* status) {
    const Bounds B = {FA_TILED_TM, FA_TILED_TN, FA_TILED_INPUT_BUFFER, FA_TILED_WEIGHT_BUFFER, FA_TILED_OUTPUT_BUFFER,
                      FA_TILED_ACC_BITS, FA_TILED_LUT_ENTRIES, weights_bytes, act_bytes};
    const uint lid = get_local_id(0), lsz = get_local_size(0);
    __local int failed;
    Layer L;
    // every work-item checks the whole program (the same answer everywhere, so no barrier is needed)
    uint result = 0;
    int code = desc_words < (uint)RECORD_WORDS ? S_HEADER : check_header(desc, desc_words, &B);
    const uint n = code ? 0 : desc[H_LAYERS];
    if (code) result = status_word(code, 0);
    for (uint i = 0; i < n && !result; i++) {
        decode_layer(desc + (ulong)(1 + i) * RECORD_WORDS, &L);
        code = check_layer(&L, &B);
        if (code) result = status_word(code, i);
    }
    const uint layers = result ? 0 : n;
    if (lid == 0) failed = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint i = 0; i < layers; i++) {
        decode_layer(desc + (ulong)(1 + i) * RECORD_WORDS, &L);
        code = run_share(&L, weights, acts, lid, lsz, &failed);
        if (code) atomic_cmpxchg((volatile __local int*)&failed, 0, (int)status_word(code, i));
        barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);  // the layer's outputs, visible to the next
        if (failed) {
            result = (uint)failed;
            break;
        }
    }
    if (lid == 0) status[0] = result;
}
