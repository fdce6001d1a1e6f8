// fpga-accel: the tiled engine's OpenCL twin, part 2 of 3: the checks that bound a program before it
// runs, field for field those of hls/include/fpga_accel/tiled/checks.h (every loop bound and address
// of opencl_engine.cl derives from checked fields).
typedef struct {
    int tm, tn, input_buffer, weight_buffer, output_buffer, acc_bits, lut_entries;
    ulong weights_bytes, act_bytes;
    int units;
} Bounds;

// checks.h Unit: the units beside the conv array (an engine built without one refuses its layers)
enum Unit { U_MAXPOOL = 1, U_AVGPOOL = 2, U_GLOBAL = 4, U_ELTWISE = 8, U_MUL = 16, U_ALL = 31 };
int unit_of(int kind) {
    switch (kind) {
        case K_MAXPOOL: return U_MAXPOOL;
        case K_AVGPOOL: return U_AVGPOOL;
        case K_GLOBAL_AVGPOOL:
        case K_GLOBAL_MAXPOOL: return U_GLOBAL;
        case K_ADD:
        case K_REQUANT:
        case K_LUT: return U_ELTWISE;
        case K_MUL: return U_MUL;
        default: return 0;
    }
}

bool view_ok(View v, ulong act_bytes) {
    if (v.dtype < D_INT8 || v.dtype > D_UINT16) return false;
    if (v.h < 1 || v.h > MAX_DIM || v.w < 1 || v.w > MAX_DIM || v.c < 1 || v.c > MAX_CHANNELS) return false;
    if (v.cs < 1 || v.cs > MAX_CHANNELS || v.offset % itemsize(v.dtype)) return false;
    const ulong last_channel = (ulong)(v.c - 1) * v.cs;  // < 2^48
    if ((ulong)v.ps < last_channel + 1 || v.ps > MAX_CHANNELS) return false;
    // < 2^32 pixels x < 2^24 stride x 2 bytes: no overflow in 64 bits
    const ulong end = v.offset + (((ulong)v.h * v.w - 1) * v.ps + last_channel + 1) * itemsize(v.dtype);
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
    const bool two = L->kind == K_ADD || L->kind == K_MUL;  // kinds of at least two inputs
    if (L->kind < K_CONV || L->kind > K_MUL) return S_KIND;
    if (unit_of(L->kind) & ~B->units) return S_ENGINE;
    if (L->n_inputs < 1 || L->n_inputs > (L->kind == K_ADD ? MAX_INPUTS : L->kind == K_MUL ? 2 : 1) ||
        (two && L->n_inputs < 2))
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
        const ulong n_weights = (ulong)L->groups * L->mg * L->cg * L->kh * L->kw;
        if (!block_ok(L->weights, n_weights, D_INT8, D_INT16, B->weights_bytes) ||
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
    if (L->kind == K_MUL) {  // the map of the output's shape; the second of it too, or a 1x1xC channel gate
        const View g = L->in[1];
        if (!same_shape(x, o) || !(same_shape(g, o) || (g.h == 1 && g.w == 1 && g.c == o.c))) return S_GEOMETRY;
        if (!mult_ok(L->m) || !shift_ok(L->shift) || !small_ok(L->zp[0]) || !small_ok(L->zp[1])) return S_CONST;
    }
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
    int adds = 0;  /* at most one residual add (checks.h) */
    for (int j = 0; j < L->n_post; j++) {
        const Post* p = &L->post[j];
        if (p->op == POST_ADD && ++adds > 1) return S_KIND;
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
