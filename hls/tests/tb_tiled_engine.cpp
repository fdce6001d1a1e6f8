// Testbench of tiled_engine.h: a hand-built two-layer program — a dense 3x3 convolution (zero point
// padding, a lookup table in its output path) then a 2x2 max pool — on a 3 x 2 array whose tiles
// divide neither the channels nor the output, against plain int64 loops on the whole tensors; the
// cycle counts against the cost model's formulas; and the refusal of corrupt descriptors (status
// code and layer) with the activation arena left as it was; and the split engine (two masters an
// arena) on the same program, to the same arenas. It simulates the form synthesis sees
// (all Tm x Tn lanes, ap_int types); the Python tests (tests/test_tiled_hls.py) run the fast form.
#define FA_TILED_AS_SYNTHESIS 1

#include <cstring>

#include "fpga_accel/tiled_engine.h"
#include "tb_common.h"

using namespace fa::tiled;

typedef tiled_config<3, 2, 4096, 256, 1024, 46, 256> cfg;
typedef TiledEngine<cfg> engine;
static Buffers<cfg> buffers;

static const int H = 5, W = 6, CI = 5, CO = 5, K = 3, PH = 2, PW = 3;
static const int ZP_IN = 3, ZP_OUT = -2, IN_MIN = -128;
// arenas: x (uint8 H x W x CI) at 0, y (int8 H x W x CO) at 256, z (int8 PH x PW x CO) at 512
static const uint32_t X_AT = 0, Y_AT = 256, Z_AT = 512, ACT_BYTES = 576;
// weights arena: weights int8 at 0, bias int32 at 256, M int32 at 320, shift int8 at 384, table int8 at 448
static const uint32_t W_AT = 0, BIAS_AT = 256, M_AT = 320, S_AT = 384, T_AT = 448, W_BYTES = 704;

struct Program {
    std::vector<uint32_t> words;
    uint32_t* rec(int i) { return &words[(size_t)(i + 1) * RECORD_WORDS]; }
};

static void view(uint32_t* r, uint32_t off, int h, int w, int c, int dtype) {
    r[V_OFFSET] = off;
    r[V_H] = h;
    r[V_W] = w;
    r[V_C] = c;
    r[V_PIXEL_STRIDE] = c;
    r[V_DTYPE] = dtype;
}
static void block(uint32_t* r, uint32_t off, uint32_t count, int dtype) {
    r[B_OFFSET] = off;
    r[B_COUNT] = count;
    r[B_DTYPE] = dtype;
}

static Program program() {
    Program p;
    p.words.assign(3 * RECORD_WORDS, 0);
    uint32_t* h = &p.words[0];
    h[H_MAGIC] = MAGIC;
    h[H_VERSION] = VERSION;
    h[H_RECORD_WORDS] = RECORD_WORDS;
    h[H_LAYERS] = 2;
    h[H_TM] = cfg::TM;
    h[H_TN] = cfg::TN;
    h[H_INPUT_BUFFER] = cfg::INPUT_BUFFER;
    h[H_WEIGHT_BUFFER] = cfg::WEIGHT_BUFFER;
    h[H_OUTPUT_BUFFER] = cfg::OUTPUT_BUFFER;
    h[H_WEIGHTS_BYTES] = W_BYTES;
    h[H_ACTIVATIONS_BYTES] = ACT_BYTES;
    uint32_t* c = p.rec(0);
    c[L_KIND] = K_CONV;
    c[L_N_INPUTS] = 1;
    c[L_TILE_TM] = 3;
    c[L_TILE_TN] = 2;
    c[L_TILE_ROWS] = 2;
    c[L_TILE_COLS] = 4;
    c[L_KH] = c[L_KW] = K;
    c[L_SH] = c[L_SW] = c[L_DH] = c[L_DW] = 1;
    c[L_PAD_T] = c[L_PAD_L] = c[L_PAD_B] = c[L_PAD_R] = 1;
    c[L_GROUPS] = 1;
    c[L_CIN_PER_GROUP] = CI;
    c[L_COUT_PER_GROUP] = CO;
    c[L_PAD_IN] = ZP_IN;
    c[L_ZP_OUT] = (uint32_t)ZP_OUT;
    c[L_LO] = (uint32_t)-128;
    c[L_HI] = 127;
    c[L_ACC_BITS] = 32;
    block(c + L_WEIGHTS, W_AT, CO * CI * K * K, D_INT8);
    block(c + L_BIAS, BIAS_AT, CO, D_INT32);
    block(c + L_M_BLOCK, M_AT, CO, D_INT32);
    block(c + L_SHIFT_BLOCK, S_AT, CO, D_INT8);
    view(c + L_INPUTS, X_AT, H, W, CI, D_UINT8);
    view(c + L_OUTPUT, Y_AT, H, W, CO, D_INT8);
    c[L_N_POST] = 1;
    c[L_POST + P_OP] = POST_LUT;
    block(c + L_POST + P_TABLE, T_AT, 256, D_INT8);
    c[L_POST + P_ENTRIES] = 256;
    c[L_POST + P_IN_MIN] = (uint32_t)IN_MIN;
    uint32_t* m = p.rec(1);
    m[L_KIND] = K_MAXPOOL;
    m[L_N_INPUTS] = 1;
    m[L_TILE_TM] = 2;
    m[L_TILE_TN] = 2;
    m[L_TILE_ROWS] = 1;
    m[L_TILE_COLS] = 2;
    m[L_KH] = m[L_KW] = 2;
    m[L_SH] = m[L_SW] = 2;
    m[L_DH] = m[L_DW] = 1;
    m[L_PAD_IN] = (uint32_t)-128;
    view(m + L_INPUTS, Y_AT, H, W, CO, D_INT8);
    view(m + L_OUTPUT, Z_AT, PH, PW, CO, D_INT8);
    return p;
}

static void put(std::vector<uint8_t>& mem, uint32_t at, int64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) mem[at + i] = (uint8_t)((uint64_t)v >> (8 * i));
}

static void run(Checker& ck) {
    // data and constants; weights wt[m][c][ky][kx] stored in the engine's order (docs/tiled.md §1):
    // per Tm tile, per Tn tile, a block [KH][KW][m][c]
    vec x = rand_vec(H * W * CI, 0, 255), wt = rand_vec(CO * CI * K * K, -127, 127), bias = rand_vec(CO, -3000, 3000);
    vec M = rand_vec(CO, 1 << 16, (1 << 17) - 1), S = rand_vec(CO, 20, 24), table = rand_vec(256, -128, 127);
    std::vector<uint8_t> acts(ACT_BYTES, 0), wts(W_BYTES, 0);
    for (int i = 0; i < H * W * CI; i++) acts[X_AT + i] = (uint8_t)x[i];
    int n = 0;
    for (int o0 = 0; o0 < CO; o0 += cfg::TM)
        for (int c0 = 0; c0 < CI; c0 += cfg::TN)
            for (int ky = 0; ky < K; ky++)
                for (int kx = 0; kx < K; kx++)
                    for (int m = o0; m < std::min(o0 + cfg::TM, CO); m++)
                        for (int c = c0; c < std::min(c0 + cfg::TN, CI); c++)
                            put(wts, W_AT + n++, wt[((m * CI + c) * K + ky) * K + kx], 1);
    for (int m = 0; m < CO; m++) {
        put(wts, BIAS_AT + 4 * m, bias[m], 4);
        put(wts, M_AT + 4 * m, M[m], 4);
        put(wts, S_AT + m, S[m], 1);
    }
    for (int i = 0; i < 256; i++) put(wts, T_AT + i, table[i], 1);
    // reference
    vec y(H * W * CO), z(PH * PW * CO);
    for (int r = 0; r < H; r++)
        for (int q = 0; q < W; q++)
            for (int m = 0; m < CO; m++) {
                int64_t acc = bias[m];
                for (int c = 0; c < CI; c++)
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++) {
                            const int iy = r + ky - 1, ix = q + kx - 1;
                            const int64_t v = iy < 0 || iy >= H || ix < 0 || ix >= W ? ZP_IN : x[(iy * W + ix) * CI + c];
                            acc += v * wt[((m * CI + c) * K + ky) * K + kx];
                        }
                y[(r * W + q) * CO + m] = table[ref_requant(acc, M[m], (int)S[m], ZP_OUT, -128, 127) - IN_MIN];
            }
    for (int r = 0; r < PH; r++)
        for (int q = 0; q < PW; q++)
            for (int m = 0; m < CO; m++) {
                int64_t best = -128;
                for (int ky = 0; ky < 2; ky++)
                    for (int kx = 0; kx < 2; kx++) best = std::max(best, y[((2 * r + ky) * W + 2 * q + kx) * CO + m]);
                z[(r * PW + q) * CO + m] = best;
            }
    Program p = program();
    const unsigned long long start = fa::sim::cycles();
    const unsigned st = engine::run(p.words.data(), p.words.size(), wts.data(), W_BYTES, acts.data(), ACT_BYTES,
                                      wts.data(), acts.data(), buffers);
    ck.ok("two layers run", st == 0, "status " + std::to_string(st));
    vec gy(H * W * CO), gz(PH * PW * CO);
    for (int i = 0; i < H * W * CO; i++) gy[i] = (int8_t)acts[Y_AT + i];
    for (int i = 0; i < PH * PW * CO; i++) gz[i] = (int8_t)acts[Z_AT + i];
    ck.same("conv 3x3, 5 -> 5 channels, + lookup table, Tm 3 Tn 2, 2x4 tiles", gy, y);
    ck.same("maxpool 2x2 stride 2, 1x2 tiles", gz, z);
    // cost model: 5 input channels on Tn = 2 run tap-parallel (ceil(K*K*CI/Tn) = 23 cycles a pixel per Tm
    // tile, fewer than dense mode's K*K*ceil(CI/Tn) = 27), 2 Tm tiles; pools rows*cols*ceil(KH*KW/Tn) per Tm tile
    const unsigned long long conv = (unsigned long long)H * W * ((K * K * CI + 1) / 2) * 2, pool = PH * PW * 2 * 3;
    ck.cycles("conv + pool cycles", start, conv + pool);
    ck.ok("per-layer cycles", layer_cycles()[0] == conv && layer_cycles()[1] == pool);
    // the split engine (SPLIT = 1: the conv's odd row reads and each weight run's second half through the
    // second masters, here the same arrays) writes the same arenas in the same cycles
    typedef tiled_config<3, 2, 4096, 256, 1024, 46, 256, 1, 1> split_cfg;
    static Buffers<split_cfg> split_buffers;
    std::vector<uint8_t> again(acts);
    std::memset(&again[Y_AT], 0, ACT_BYTES - Y_AT);
    const unsigned long long split_start = fa::sim::cycles();
    const unsigned split_st = TiledEngine<split_cfg>::run(p.words.data(), p.words.size(), wts.data(), W_BYTES,
                                                          again.data(), ACT_BYTES, wts.data(), again.data(), split_buffers);
    ck.ok("split engine: same arenas, same cycles",
          split_st == 0 && again == acts && fa::sim::cycles() - split_start == conv + pool);

    // refusals: checked before anything runs, so the arena is untouched
    struct Bad {
        const char* what;
        int layer, word;
        uint32_t value;
        unsigned want;
    } bad[] = {
        {"output past the activation arena", 0, L_OUTPUT + V_OFFSET, ACT_BYTES - 8, status(S_VIEW, 0)},
        {"input view taller than the arena", 1, L_INPUTS + V_H, 60000, status(S_VIEW, 1)},
        {"weights past the weights arena", 0, L_WEIGHTS + B_OFFSET, W_BYTES - 16, status(S_BLOCK, 0)},
        {"table larger than the engine's", 0, L_POST + P_ENTRIES, 512, status(S_BLOCK, 0)},
        {"tile wider than Tm", 1, L_TILE_TM, 4, status(S_TILE, 1)},
        {"tile larger than the output", 0, L_TILE_ROWS, 6, status(S_TILE, 0)},
        {"window that does not give the output", 1, L_SH, 1, status(S_GEOMETRY, 1)},
        {"unknown kind", 1, L_KIND, 77, status(S_KIND, 1)},
        {"accumulator wider than the engine's", 0, L_ACC_BITS, 47, status(S_CONST, 0)},
        {"header: more layers than records", -1, H_LAYERS, 3, status(S_HEADER, 0)},
        {"header: another Tm", -1, H_TM, 4, status(S_ENGINE, 0)},
        {"header: a larger activation arena", -1, H_ACTIVATIONS_BYTES, ACT_BYTES + 1, status(S_ENGINE, 0)},
    };
    for (const Bad& b : bad) {
        Program q = program();
        (b.layer < 0 ? &q.words[0] : q.rec(b.layer))[b.word] = b.value;
        std::memset(&acts[Y_AT], 0x5A, ACT_BYTES - Y_AT);
        const std::vector<uint8_t> before = acts;
        const unsigned got = engine::run(q.words.data(), q.words.size(), wts.data(), W_BYTES, acts.data(), ACT_BYTES,
                                      wts.data(), acts.data(), buffers);
        ck.ok(b.what, got == b.want && acts == before,
              "status " + std::to_string(got) + ", expected " + std::to_string(b.want));
    }
    // run-time failure: a lookup outside its table stops the engine on that layer
    Program q = program();
    q.rec(0)[L_POST + P_IN_MIN] = 0;  // indices y - 0 < 0 for negative results
    const unsigned got = engine::run(q.words.data(), q.words.size(), wts.data(), W_BYTES, acts.data(), ACT_BYTES,
                                      wts.data(), acts.data(), buffers);
    ck.ok("lookup outside the table", got == status(S_LUT_INDEX, 0), "status " + std::to_string(got));
}

int main() {
    Checker ck;
    return ck.both_paths("tb_tiled_engine", run);
}
