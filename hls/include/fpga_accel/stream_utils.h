// fpga-accel HLS library: stream plumbing between processing elements.
//
// Streams carry packed words (see types.h). Every function here moves a known number of words per
// image and processes `reps` images per call, so a DATAFLOW region of PEs is called once per batch.
//
//  copy        in -> out, N words.                                    cycles/image = N
//  drain       read and discard N words.                              cycles/image = N
//  duplicate   in -> out_a and out_b (fork for a residual branch).    cycles/image = N
//              The branch that is consumed later needs a FIFO deep enough to hold what it must
//              buffer while the other branch works (declared at the stream with STREAM depth=).
//  width_convert<IN_LANES, OUT_LANES, BITS>
//              repacks a stream of IN_LANES-element words into OUT_LANES-element words (any two
//              lane counts; elements keep their order). Per image N_IN words in, N_OUT words out,
//              N_IN*IN_LANES == N_OUT*OUT_LANES.               cycles/image = max(N_IN, N_OUT)
#ifndef FA_STREAM_UTILS_H
#define FA_STREAM_UTILS_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

namespace fa {

template <typename T>
void copy(hls::stream<T>& in, hls::stream<T>& out, unsigned n_words, unsigned reps = 1) {
    for (unsigned i = 0; i < n_words * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        out.write(in.read());
    }
}

template <typename T>
void drain(hls::stream<T>& in, unsigned n_words, unsigned reps = 1) {
    for (unsigned i = 0; i < n_words * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        in.read();
    }
}

template <typename T>
void duplicate(hls::stream<T>& in, hls::stream<T>& out_a, hls::stream<T>& out_b, unsigned n_words,
               unsigned reps = 1) {
    for (unsigned i = 0; i < n_words * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        T w = in.read();
        out_a.write(w);
        out_b.write(w);
    }
}

// Each iteration reads one input word if fewer than OUT_LANES elements are buffered, then writes
// one output word if at least OUT_LANES are; that keeps one side busy every cycle, hence the
// max(N_IN, N_OUT) cycle count. At most IN_LANES + OUT_LANES - 1 elements are ever buffered.
template <int IN_LANES, int OUT_LANES, int BITS>
void width_convert(hls::stream<ap_uint<IN_LANES * BITS> >& in, hls::stream<ap_uint<OUT_LANES * BITS> >& out,
                   unsigned n_in_words, unsigned reps = 1) {
    const unsigned elems = n_in_words * IN_LANES;
    const unsigned n_out = elems / OUT_LANES;  // caller guarantees divisibility
    const unsigned iters = (n_in_words > n_out ? n_in_words : n_out) * reps;
#ifndef __SYNTHESIS__
    if (sim::fast_paths() && elems % OUT_LANES == 0) {  // simulation: regroup native lanes
        uint64_t lanes[IN_LANES + OUT_LANES];
        unsigned held = 0, done = 0;  // done: FA_CYCLE iterations so far, advanced as the loop's
        for (unsigned k = 0; k < n_in_words * reps; k++) {
            ++sim::cycles(), ++done;  // the iteration that reads
            sim::unpack_word<IN_LANES, BITS, false>(in.read(), lanes + held);
            held += IN_LANES;
            unsigned at = 0;
            for (; held - at >= (unsigned)OUT_LANES; at += OUT_LANES) {
                if (at > 0) ++sim::cycles(), ++done;  // a further word: an iteration without a read
                out.write(sim::pack_word<OUT_LANES, BITS>(lanes + at));
            }
            for (unsigned j = at; j < held; j++) lanes[j - at] = lanes[j];
            held -= at;
        }
        if (done < iters) sim::cycles() += iters - done;
        return;
    }
#endif
    ap_uint<(IN_LANES + OUT_LANES) * BITS> buf = 0;
    unsigned fill = 0;  // elements held in buf, lowest lanes first
    for (unsigned i = 0; i < iters; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        if (fill < OUT_LANES) {
            ap_uint<(IN_LANES + OUT_LANES) * BITS> w = in.read();
            buf |= w << (fill * BITS);
            fill += IN_LANES;
        }
        if (fill >= OUT_LANES) {
            out.write(buf.range(OUT_LANES * BITS - 1, 0));
            buf >>= OUT_LANES * BITS;
            fill -= OUT_LANES;
        }
    }
}

}  // namespace fa

#endif  // FA_STREAM_UTILS_H
