/* The emulator's native convolution: the contract's integers for a group-1 or depthwise Conv layer,
 * optionally with the MaxPool that reads it, in one pass over the input (fastconv.py builds and
 * calls this).
 *
 *   y[n, oy, ox, m] = clamp(zp + (((max_t dot_t + bias[m]) * M[m] + 2^(shift[m]-1)) >> shift[m]), lo, hi)
 *
 * where dot_t is the window sum at pool tap t (one tap when there is no pool). Products are
 * int16 x int16 summed in int32: fastconv.py calls this only when every partial sum of every
 * dot product fits in int32 and no product pair can overflow it, so the sums are exact in any
 * order; the requantisation runs in int64 like quant.arith.requantize, or in double where that
 * gives the same integers (see requantize).
 *
 * The window's elements, k = (ky * KW + kx) * C + c, lie in the NHWC input in runs: a row of the
 * window (KW * C elements) when the x dilation is 1, else a pixel (C elements). Each run goes in
 * pairs of neighbours, the last element of an odd run paired with the one after it (whatever it
 * holds) and a zero weight. Weights come packed in those pairs, output channels padded to a
 * multiple of 8: wp[(p * mpad + m) * 2 + j] = weight of pair p's element j for channel m, the
 * operand order of the AVX2 instruction vpmaddwd (two int16 products summed into one int32
 * lane). Without AVX2 the same sums run in plain C.
 *
 * Output positions go in tiles of up to four along x that share every weight load. A depthwise
 * layer (one filter per channel) sums its taps channel by channel instead (dot_depthwise).
 */
#include <stdint.h>
#include <string.h>
#ifdef __AVX2__
#include <immintrin.h>
#endif

typedef struct {
    int64_t h, w, c;                    /* padded input (per image), channels last */
    int64_t kh, kw, sh, sw, dh, dw;     /* convolution kernel, strides, dilations */
    int64_t ph, pw, psh, psw, pdh, pdw; /* pool kernel, strides, dilations (1s: no pool) */
    int64_t oh, ow, m;                  /* output (pooled) height, width, channels */
    int64_t kpairs, mpad;               /* packed weights: pairs, padded channels */
    int64_t zp, lo, hi, by_double;
    int64_t depthwise;                  /* one filter per channel: kpairs counts kernel taps */
} fa_conv_geometry;

#define TILE 4

static inline int32_t pair(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v); /* two int16 as one lane (one load) */
    return v;
}

/* best[i * mpad + m0 .. + 8 * NB) = the dot products of the windows at px[i] (i < P, each the
 * window's first element) with output channels m0 .. m0 + 8 * NB (first), or the max of those and
 * best's values (a later pool tap); off[p] is pair p's offset in the window. */
#ifdef __AVX2__
#define DOT(P, NB)                                                                                  \
    static void dot_##P##_##NB(const int16_t *const *px, const int64_t *off, const int16_t *wp,     \
                               int64_t kpairs, int64_t mpad, int64_t m0, int first, int32_t *best)  \
    {                                                                                               \
        __m256i a[P][NB];                                                                           \
        for (int i = 0; i < P; i++)                                                                 \
            for (int b = 0; b < NB; b++)                                                            \
                a[i][b] = _mm256_setzero_si256();                                                   \
        const int16_t *w = wp + m0 * 2;                                                             \
        for (int64_t p = 0; p < kpairs; p++, w += mpad * 2) {                                       \
            __m256i wv[NB];                                                                         \
            for (int b = 0; b < NB; b++)                                                            \
                wv[b] = _mm256_loadu_si256((const __m256i *)(w + 16 * b));                          \
            for (int i = 0; i < P; i++) {                                                           \
                __m256i v = _mm256_set1_epi32(pair(px[i] + off[p]));                                \
                for (int b = 0; b < NB; b++)                                                        \
                    a[i][b] = _mm256_add_epi32(a[i][b], _mm256_madd_epi16(v, wv[b]));               \
            }                                                                                       \
        }                                                                                           \
        for (int i = 0; i < P; i++)                                                                 \
            for (int b = 0; b < NB; b++) {                                                          \
                __m256i *dst = (__m256i *)(best + i * mpad + m0 + 8 * b);                           \
                _mm256_storeu_si256(dst, first ? a[i][b] : _mm256_max_epi32(a[i][b], _mm256_loadu_si256(dst))); \
            }                                                                                       \
    }
typedef void (*dot_fn)(const int16_t *const *, const int64_t *, const int16_t *, int64_t, int64_t, int64_t, int,
                       int32_t *);
/* tiles of up to TILE positions for one or two blocks of 8 channels, up to two for three or four
 * (the accumulators then fill the 16 vector registers) */
DOT(1, 1) DOT(2, 1) DOT(3, 1) DOT(4, 1)
DOT(1, 2) DOT(2, 2) DOT(3, 2) DOT(4, 2)
DOT(1, 3) DOT(2, 3)
DOT(1, 4) DOT(2, 4)
static const dot_fn DOTS[5][TILE + 1] = {
    {0},
    {0, dot_1_1, dot_2_1, dot_3_1, dot_4_1},
    {0, dot_1_2, dot_2_2, dot_3_2, dot_4_2},
    {0, dot_1_3, dot_2_3, 0, 0},
    {0, dot_1_4, dot_2_4, 0, 0},
};

/* Dot products of P <= TILE windows with all mpad output channels, into best[i * mpad + m] (first),
 * else their max with what best holds. */
static void dot(const int16_t *const *px, int P, const int64_t *off, const int16_t *wp, const fa_conv_geometry *g,
                int first, int32_t *best)
{
    for (int64_t m0 = 0; m0 < g->mpad; m0 += 32) {
        int nb = (g->mpad - m0) / 8 > 4 ? 4 : (int)((g->mpad - m0) / 8);
        int most = nb <= 2 ? 4 : 2;
        for (int i = 0; i < P;) {
            int k = P - i < most ? P - i : most;
            DOTS[nb][k](px + i, off, wp, g->kpairs, g->mpad, m0, first, best + i * g->mpad);
            i += k;
        }
    }
}
#else
static void dot(const int16_t *const *px, int P, const int64_t *off, const int16_t *wp, const fa_conv_geometry *g,
                int first, int32_t *best)
{
    for (int i = 0; i < P; i++) {
        int32_t *b = best + i * g->mpad;
        for (int64_t m = 0; m < g->mpad; m++) {
            const int16_t *w = wp + 2 * m;
            int32_t a = 0;
            for (int64_t p = 0; p < g->kpairs; p++, w += g->mpad * 2)
                a += (int32_t)px[i][off[p]] * w[0] + (int32_t)px[i][off[p] + 1] * w[1];
            b[m] = first || a > b[m] ? a : b[m];
        }
    }
}
#endif

/* Depthwise: best[i * mpad + m] = sum over taps t of x[px[i] + off[t] + m] * wd[t * mpad + m]
 * (first), else the max of that and best's value; products and sums in int32, which the compiler
 * vectorises over the channels. acc holds mpad int32. */
static void dot_depthwise(const int16_t *const *px, int P, const int64_t *off, const int32_t *wd,
                          const fa_conv_geometry *g, int first, int32_t *best, int32_t *acc)
{
    for (int i = 0; i < P; i++) {
        for (int64_t m = 0; m < g->m; m++)
            acc[m] = 0;
        for (int64_t t = 0; t < g->kpairs; t++) {
            const int16_t *xt = px[i] + off[t];
            const int32_t *wt = wd + t * g->mpad;
            for (int64_t m = 0; m < g->m; m++)
                acc[m] += xt[m] * wt[m];
        }
        int32_t *b = best + i * g->mpad;
        for (int64_t m = 0; m < g->m; m++)
            b[m] = first || acc[m] > b[m] ? acc[m] : b[m];
    }
}

/* out[j] = clamp(zp + (((acc[j] + bias[m]) * mult[m] + 2^(shift[m]-1)) >> shift[m]), lo, hi) for
 * j < count, channel m = j mod m (count a multiple of m). With g->by_double
 * (fastint.requant_exact_in_float64 holds), the same integers as
 * lo + floor(clamp(acc * scale + offset, 0, hi - lo)), exact in double, which vectorises; scale and
 * offset hold TILE copies of the per-channel values, so one flat loop covers a tile. */
static inline void requantize(const int32_t *acc, int64_t count, const fa_conv_geometry *g, const int64_t *bias,
                              const int64_t *mult, const int64_t *shift, const double *scale, const double *offset,
                              int32_t *out)
{
    if (g->by_double) {
        const double span = (double)(g->hi - g->lo);
        const int32_t lo = (int32_t)g->lo;
        for (int64_t j = 0; j < count; j++) {
            double v = (double)acc[j] * scale[j] + offset[j];
            v = v < 0.0 ? 0.0 : v;
            v = v > span ? span : v;
            out[j] = (int32_t)v + lo;
        }
        return;
    }
    for (int64_t j0 = 0; j0 < count; j0 += g->m)
        for (int64_t m = 0; m < g->m; m++) {
            int64_t r = (((int64_t)acc[j0 + m] + bias[m]) * mult[m] + ((int64_t)1 << (shift[m] - 1))) >> shift[m];
            r += g->zp;
            out[j0 + m] = (int32_t)(r < g->lo ? g->lo : (r > g->hi ? g->hi : r));
        }
}

/* Images [0, n) of x (n, h, w, c) into y (n, oh, ow, m). wp: the packed pairs (int16), or for a
 * depthwise layer wd[t * mpad + m] (int32). Scratch of the caller (so this allocates nothing): off
 * holds kpairs int64, best TILE * mpad int32, acc mpad int32. */
void fa_conv_pool_requant(const int16_t *x, int64_t n, const void *wp, const int64_t *bias,
                          const int64_t *mult, const int64_t *shift, const double *scale, const double *offset,
                          const fa_conv_geometry *g, int64_t *off, int32_t *best, int32_t *acc, int32_t *y)
{
    int64_t p = 0, run = g->depthwise ? 1 : (g->dw == 1 ? g->kw * g->c : g->c);
    for (int64_t ky = 0; ky < g->kh; ky++)
        for (int64_t kx = 0; kx < g->kw; kx += g->depthwise ? 1 : run / g->c)
            for (int64_t e = 0; e < run; e += 2)
                off[p++] = (ky * g->dh * g->w + kx * g->dw) * g->c + e;
    for (int64_t i = 0; i < n; i++) {
        const int16_t *img = x + i * g->h * g->w * g->c;
        for (int64_t oy = 0; oy < g->oh; oy++) {
            for (int64_t ox0 = 0; ox0 < g->ow; ox0 += TILE) {
                int P = g->ow - ox0 < TILE ? (int)(g->ow - ox0) : TILE;
                for (int64_t ty = 0; ty < g->ph; ty++) {
                    for (int64_t tx = 0; tx < g->pw; tx++) {
                        const int16_t *px[TILE];
                        int64_t cy = oy * g->psh + ty * g->pdh;
                        for (int t = 0; t < P; t++) {
                            int64_t cx = (ox0 + t) * g->psw + tx * g->pdw;
                            px[t] = img + (cy * g->sh * g->w + cx * g->sw) * g->c;
                        }
                        if (g->depthwise)
                            dot_depthwise(px, P, off, wp, g, ty == 0 && tx == 0, best, acc);
                        else
                            dot(px, P, off, wp, g, ty == 0 && tx == 0, best);
                    }
                }
                int32_t *out = y + ((i * g->oh + oy) * g->ow + ox0) * g->m;
                if (g->m == g->mpad) /* the tile's sums and outputs both contiguous: one loop */
                    requantize(best, P * g->m, g, bias, mult, shift, scale, offset, out);
                else
                    for (int t = 0; t < P; t++)
                        requantize(best + t * g->mpad, g->m, g, bias, mult, shift, scale, offset, out + t * g->m);
            }
        }
    }
}
