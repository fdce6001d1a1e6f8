// Testbench for fpga_accel/channel_slice.h: a channel range out of N_PIXELS x C, against direct
// indexing of the unfolded tensor, over widths, lanes, ranges at the start, middle and end, and images.
#include "fpga_accel/channel_slice.h"
#include "tb_common.h"

template <int NP, int C_, int S, int N, int L, int B>
struct SliceCfg {
    static const unsigned N_PIXELS = NP, C = C_, START = S, LEN = N, LANES = L;
    static const int BITS = B;
};

template <class C>
void run_slice(Checker& chk, const char* name, int reps = 3) {
    hls::stream<ap_uint<C::LANES * C::BITS> > in("in"), out("out");
    const size_t n = (size_t)C::N_PIXELS * C::C * reps;
    vec x = rand_vec(n, qmin(C::BITS, true), qmax(C::BITS, true)), want;
    for (size_t p = 0; p < (size_t)C::N_PIXELS * reps; p++)
        for (unsigned c = C::START; c < C::START + C::LEN; c++) want.push_back(x[p * C::C + c]);
    push_words<C::LANES, C::BITS>(in, x);
    const unsigned long long c0 = fa::sim::cycles();
    fa::channel_slice<C>(in, out, reps);
    chk.cycles(std::string(name) + " cycles = N_PIXELS*C/LANES", c0,
               (unsigned long long)C::N_PIXELS * (C::C / C::LANES) * reps);
    chk.ok(std::string(name) + " consumes all input", in.empty());
    chk.same(name, pop_words<C::LANES, C::BITS, true>(out), want);
}

static void run_all(Checker& chk) {
    run_slice<SliceCfg<7, 8, 0, 4, 2, 8> >(chk, "first half, 2 lanes");
    run_slice<SliceCfg<7, 8, 4, 4, 4, 8> >(chk, "second half, one word each");
    run_slice<SliceCfg<5, 12, 3, 6, 3, 4> >(chk, "middle, int4, 3 lanes");
    run_slice<SliceCfg<4, 6, 5, 1, 1, 16> >(chk, "last channel, int16");
    run_slice<SliceCfg<3, 10, 0, 10, 5, 2> >(chk, "everything, int2");
}

int main() {
    Checker chk;
    return chk.both_paths("tb_channel_slice", run_all);
}
