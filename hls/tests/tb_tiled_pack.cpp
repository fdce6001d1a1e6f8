// Testbench: the tiled engine's packed multiply (tiled/pack.h) against plain products, exhaustively:
// every pair of int8 weights times every int8 and uint8 activation, with the C-simulation fast path
// and with the ap_int arithmetic synthesis sees.
#include "fpga_accel/tiled/pack.h"
#include "tb_common.h"

static void run(Checker& ck) {
    for (int w_lo = -128; w_lo <= 127; w_lo++) {  // one check per low weight
        long long bad = 0;
        for (int w_hi = -128; w_hi <= 127; w_hi++)
            for (int x = -128; x <= 255; x += fa::sim::fast_paths() ? 1 : 5) {  // the ap_int path on a stride
                int64_t lo, hi;
                fa::tiled::pair_mul(w_lo, w_hi, x, lo, hi);
                if ((lo != (int64_t)w_lo * x || hi != (int64_t)w_hi * x) && !bad++)
                    std::printf("FAIL%s: w_lo %d w_hi %d x %d -> %lld %lld\n", sim_path(), w_lo, w_hi, x, (long long)lo,
                                (long long)hi);
            }
        ck.ok("w_lo = " + std::to_string(w_lo) + " with every w_hi and activation", bad == 0,
              std::to_string(bad) + " wrong");
    }
    int64_t lo, hi;
    fa::tiled::pair_mul(-128, -128, 255, lo, hi);
    ck.ok("-128 x 255 twice", lo == -32640 && hi == -32640, std::to_string(lo) + " " + std::to_string(hi));
    fa::tiled::pair_mul(-128, 127, -128, lo, hi);
    ck.ok("-128 x -128 and 127 x -128", lo == 16384 && hi == -16256, std::to_string(lo) + " " + std::to_string(hi));
}

int main() {
    Checker ck;
    return ck.both_paths("tb_tiled_pack", run);
}
