// Testbench for fpga_accel/stream_utils.h: copy, drain, duplicate and width conversion between
// any two lane counts keep every element in order, over several images per call.
#include "fpga_accel/stream_utils.h"
#include "tb_common.h"

#include <algorithm>

template <int IN, int OUT, int BITS, bool SGN>
void run_convert(Checker& chk, unsigned n_in_words, int reps = 3) {
    hls::stream<ap_uint<IN * BITS> > in("in");
    hls::stream<ap_uint<OUT * BITS> > out("out");
    vec x = rand_vec((size_t)n_in_words * IN * reps, qmin(BITS, SGN), qmax(BITS, SGN));
    push_words<IN, BITS>(in, x);
    const unsigned long long c0 = fa::sim::cycles();
    fa::width_convert<IN, OUT, BITS>(in, out, n_in_words, reps);
    const unsigned long long n_out = (unsigned long long)n_in_words * IN / OUT;
    chk.cycles("width_convert " + std::to_string(IN) + "->" + std::to_string(OUT) + " cycles = max(N_IN, N_OUT)", c0,
               std::max<unsigned long long>(n_in_words, n_out) * reps);
    const std::string name = "width_convert " + std::to_string(IN) + "->" + std::to_string(OUT) + " x" +
                             std::to_string(BITS) + (SGN ? "s" : "u");
    chk.ok(name + " consumes all input", in.empty());
    chk.same(name, pop_words<OUT, BITS, SGN>(out), x);
}

static void run_all(Checker& chk) {
    typedef ap_uint<24> w24;
    {
        hls::stream<w24> in("in"), a("a"), b("b"), c("c");
        vec x = rand_vec(3 * 50, 0, 255);
        push_words<3, 8>(in, x);
        unsigned long long c0 = fa::sim::cycles();
        fa::duplicate(in, a, b, 25, 2);
        chk.cycles("duplicate cycles = N", c0, 50);
        c0 = fa::sim::cycles();
        fa::copy(a, c, 25, 2);
        chk.cycles("copy cycles = N", c0, 50);
        chk.ok("duplicate consumes all input", in.empty());
        chk.same("duplicate branch a (through copy)", pop_words<3, 8, false>(c), x);
        chk.same("duplicate branch b", pop_words<3, 8, false>(b), x);
        push_words<3, 8>(in, x);
        fa::drain(in, 25, 2);
        chk.ok("drain empties the stream", in.empty());
    }
    run_convert<1, 4, 8, true>(chk, 24);
    run_convert<4, 1, 8, false>(chk, 6);
    run_convert<3, 2, 5, true>(chk, 10);
    run_convert<2, 3, 16, true>(chk, 9);
    run_convert<6, 4, 4, false>(chk, 14);
    run_convert<4, 6, 2, true>(chk, 9);
    run_convert<5, 5, 7, true>(chk, 11);
    run_convert<8, 3, 3, false>(chk, 3);
    run_convert<3, 8, 12, true>(chk, 8);
    run_convert<16, 1, 2, false>(chk, 2);
}

int main() {
    Checker chk;
    return chk.both_paths("tb_stream_utils", run_all);
}
