// Testbench for fpga_accel/channel_shuffle.h: the shuffle of N_PIXELS x C in G groups, against the
// reshape (G, C/G) -> transpose -> reshape written as index arithmetic on the unfolded tensor, over
// widths, lanes, group counts and images.
#include "fpga_accel/channel_shuffle.h"
#include "tb_common.h"

template <int NP, int C_, int G_, int L, int B>
struct ShuffleCfg {
    static const unsigned N_PIXELS = NP, C = C_, G = G_, LANES = L;
    static const int BITS = B;
};

template <class C>
void run_shuffle(Checker& chk, const char* name, int reps = 3) {
    static const unsigned K = C::C / C::G;
    hls::stream<ap_uint<C::LANES * C::BITS> > in("in"), out("out");
    const size_t n = (size_t)C::N_PIXELS * C::C * reps;
    vec x = rand_vec(n, qmin(C::BITS, false), qmax(C::BITS, false)), want(n);
    // x viewed as [pixel][g][k]; y as [pixel][k][g]
    for (size_t p = 0; p < (size_t)C::N_PIXELS * reps; p++)
        for (unsigned g = 0; g < C::G; g++)
            for (unsigned k = 0; k < K; k++) want[p * C::C + k * C::G + g] = x[p * C::C + g * K + k];
    push_words<C::LANES, C::BITS>(in, x);
    const unsigned long long c0 = fa::sim::cycles();
    fa::channel_shuffle<C>(in, out, reps);
    chk.cycles(std::string(name) + " cycles = (N_PIXELS*reps + 1)*C/LANES", c0,
               (unsigned long long)(C::N_PIXELS * reps + 1) * (C::C / C::LANES));
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<C::LANES, C::BITS, false>(out), want);
}

static void run_all(Checker& chk) {
    run_shuffle<ShuffleCfg<5, 8, 2, 2, 8> >(chk, "8 channels, 2 groups, 2 lanes");
    run_shuffle<ShuffleCfg<4, 12, 3, 4, 4> >(chk, "12 channels, 3 groups, 4 lanes, uint4");
    run_shuffle<ShuffleCfg<3, 12, 4, 1, 16> >(chk, "12 channels, 4 groups, 1 lane, uint16");
    run_shuffle<ShuffleCfg<6, 6, 2, 6, 2> >(chk, "one word per pixel");
    run_shuffle<ShuffleCfg<1, 10, 5, 5, 8> >(chk, "one pixel");
    run_shuffle<ShuffleCfg<2, 4, 1, 2, 8> >(chk, "one group: identity");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_channel_shuffle", run_all);
}
