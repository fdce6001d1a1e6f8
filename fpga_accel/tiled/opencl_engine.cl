// fpga-accel: the tiled engine's OpenCL twin, part 3 of 3 (after opencl_records.cl and opencl_checks.cl,
// which the host puts before it). It runs the binary program (fpga_accel/tiled/descriptors.py)
// over the two arenas exactly as the HLS engine does (hls/include/fpga_accel/tiled_engine.h): the same
// checks of every header and layer field before anything runs (tiled/checks.h), the same integers
// (tiled/conv.h, pool.h, eltwise.h, mul.h, output_path.h, requant.h), the same status word (code in
// the low 8 bits, layer index above them). It exists to verify the engine on any OpenCL device (PoCL
// in the tests) and to give the host the argument list the engine's xclbin exposes:
//
//   fa_tiled_kernel(desc, desc_words, weights, weights_bytes, acts, act_bytes, status)
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

// --- memory (memory.h): views are aligned to their type (checked), blocks need not be ---------
long load_view(__global const uchar* a, ulong at, int dt) {
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
// element (y, x, c): channel c of pixel (y, x), channels cs apart (a slice or one input of a shuffle)
ulong addr(const View* v, int y, int x, int c) {
    return v->offset + (((ulong)y * v->w + x) * v->ps + (ulong)c * v->cs) * itemsize(v->dtype);
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

// Σ x[c·cs]·w[wa + c] over cn channels cs elements apart: 8-bit activations and weights (the common
// case) without the per-element type dispatch
long dot(__global const uchar* xp, int xdt, int cs, weights_p w, const Block* wb, ulong wa, int cn) {
    long s = 0;
    if (wb->dtype == D_INT8 && xdt <= D_UINT8) {
        __global const char* wp = (__global const char*)(w + wb->offset + wa);
        if (xdt == D_INT8)
            for (int c = 0; c < cn; c++) s += ((__global const char*)xp)[(ulong)c * cs] * wp[c];
        else
            for (int c = 0; c < cn; c++) s += xp[(ulong)c * cs] * wp[c];
        return s;
    }
    const int isz = itemsize(xdt);
    for (int c = 0; c < cn; c++) s += load_view(xp, (ulong)c * cs * isz, xdt) * at(w, wb, wa + c);
    return s;
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
                acc += dot(acts + a, x->dtype, x->cs, w, &L->weights, wa, cn);
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

// mul (mul.h): requantise((a - zp0)*(b - zp1)), b of a's shape or a 1x1xC channel gate (checked)
int mul_out(const Layer* L, weights_p w, acts_p acts, int r, int q, int ch) {
    const View *a = &L->in[0], *g = &L->in[1];
    const bool gate = g->h != a->h || g->w != a->w;
    const long va = load_view(acts, addr(a, r, q, ch), a->dtype);
    const long vb = load_view(acts, gate ? addr(g, 0, 0, ch) : addr(g, r, q, ch), g->dtype);
    int status = S_OK;
    const long y = requant((va - L->zp[0]) * (vb - L->zp[1]), L->m, L->shift, L->zp_out, L->lo, L->hi, &status);
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
            case K_MUL: code = mul_out(L, w, acts, r, q, ch); break;
            default: code = eltwise_out(L, w, acts, r, q, ch);
        }
        if (code) return code;
    }
    return S_OK;
}

uint status_word(int code, uint layer) { return code ? (uint)code | (layer << 8) : 0u; }

__kernel void fa_tiled_kernel(__global const uint* desc, uint desc_words, __global const uchar* weights,
                           uint weights_bytes, __global uchar* acts, uint act_bytes, __global uint* status) {
    const Bounds B = {FA_TILED_TM, FA_TILED_TN, FA_TILED_INPUT_BUFFER, FA_TILED_WEIGHT_BUFFER, FA_TILED_OUTPUT_BUFFER,
                      FA_TILED_ACC_BITS, FA_TILED_LUT_ENTRIES, weights_bytes, act_bytes, FA_TILED_UNITS};
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
