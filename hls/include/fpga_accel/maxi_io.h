// fpga-accel HLS library: m_axi adapters for kernels started through XRT/OpenCL (Vitis platforms).
//
// Memory format: the batch as the host stores it, i.e. the NHWC tensor(s) of the batch one after
// another as a C array of the element's storage type (int8/uint8 for BITS <= 8, int16/uint16 up to
// 16; quant/qtype.py QType.dtype), packed little-endian into MEM_BITS-wide memory words:
// E = MEM_BITS/CONT elements per word, element j of the array at bits [(j%E)*CONT, (j%E+1)*CONT) of
// word j/E. The host allocates whole memory words; the tail of the last word is ignored on input
// and written as 0 on output.
//
// mem_to_stream<LANES, BITS, MEM_BITS>(mem, out, words, reps)  words internal words of LANES elements
//   per image = mem_read (a burst loop, N_MEM cycles) -> unpack (max(N_MEM, N) cycles), overlapped in
//   a DATAFLOW region, so cycles/batch ~= max(N_MEM, N) plus the memory latency.
// stream_to_mem<LANES, BITS, SIGNED, MEM_BITS>(in, mem, words, reps)  the reverse: pack
//   (max(N_MEM, N + 1) cycles) -> mem_write (N_MEM); SIGNED selects sign or zero extension.
// where N = words*reps and N_MEM = ceil(N*LANES / E), the memory words the batch occupies (mem_words()).
// Images follow each other without padding, so an image may start inside a memory word.
// Words wider than 1024 bits (E + LANES elements in the unpack buffer) need AP_INT_MAX_W defined.
//
// A Vitis kernel built from these (what the code generator emits) looks like
//     extern "C" void kernel(const ap_uint<512>* in, ap_uint<512>* out, unsigned reps) {
//     #pragma HLS INTERFACE mode=m_axi port=in offset=slave bundle=gmem0 max_read_burst_length=64
//     #pragma HLS INTERFACE mode=m_axi port=out offset=slave bundle=gmem1 max_write_burst_length=64
//     #pragma HLS INTERFACE mode=s_axilite port=in
//     #pragma HLS INTERFACE mode=s_axilite port=out
//     #pragma HLS INTERFACE mode=s_axilite port=reps
//     #pragma HLS INTERFACE mode=s_axilite port=return
//     #pragma HLS DATAFLOW
//         fa::mem_to_stream<...>(in, s0, WORDS_IN, reps);  ...PEs...  fa::stream_to_mem<...>(sN, out, WORDS_OUT, reps);
//     }
#ifndef FA_MAXI_IO_H
#define FA_MAXI_IO_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

namespace fa {

// Storage width of one element in host memory.
template <int BITS> struct container_bits { static const int value = BITS <= 8 ? 8 : 16; };

// Memory words holding n_words internal words of LANES elements.
template <int LANES, int BITS, int MEM_BITS>
unsigned mem_words(unsigned n_words) {
    const unsigned e = MEM_BITS / container_bits<BITS>::value;
    return (n_words * LANES + e - 1) / e;
}

template <int LANES, int BITS, int MEM_BITS>
void mem_read(const ap_uint<MEM_BITS>* mem, hls::stream<ap_uint<MEM_BITS> >& out, unsigned n_words) {
    const unsigned n_mem = mem_words<LANES, BITS, MEM_BITS>(n_words);
    for (unsigned i = 0; i < n_mem; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        out.write(mem[i]);
    }
}

template <int LANES, int BITS, int MEM_BITS>
void mem_write(hls::stream<ap_uint<MEM_BITS> >& in, ap_uint<MEM_BITS>* mem, unsigned n_words) {
    const unsigned n_mem = mem_words<LANES, BITS, MEM_BITS>(n_words);
    for (unsigned i = 0; i < n_mem; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        mem[i] = in.read();
    }
}

// Memory words -> internal words: drop each container's high bits, then regroup E elements per
// memory word into LANES per internal word (same buffer scheme as width_convert).
template <int LANES, int BITS, int MEM_BITS>
void unpack(hls::stream<ap_uint<MEM_BITS> >& in, hls::stream<ap_uint<LANES * BITS> >& out, unsigned n_words) {
    static const int CONT = container_bits<BITS>::value, E = MEM_BITS / CONT;
    static_assert(MEM_BITS % CONT == 0, "memory word must hold whole elements");
    const unsigned n_mem = mem_words<LANES, BITS, MEM_BITS>(n_words);
    const unsigned iters = n_mem > n_words ? n_mem : n_words;
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {  // simulation: the same elements through native lanes
        uint64_t lanes[E + LANES];
        unsigned held = 0, written = 0, done = 0;  // done: FA_CYCLE iterations so far, as the loop's
        for (unsigned k = 0; k < n_mem; k++) {
            ++sim::cycles(), ++done;  // the iteration that reads
            sim::unpack_word<E, CONT, false>(in.read(), lanes + held);  // pack_word keeps the low BITS
            held += E;
            unsigned at = 0;
            for (; held - at >= (unsigned)LANES && written < n_words; at += LANES, written++) {
                if (at > 0) ++sim::cycles(), ++done;  // a further word: an iteration without a read
                out.write(sim::pack_word<LANES, BITS>(lanes + at));
            }
            for (unsigned j = at; j < held; j++) lanes[j - at] = lanes[j];
            held -= at;
        }
        if (done < iters) sim::cycles() += iters - done;
        return;
    }
#endif
    ap_uint<(E + LANES) * BITS> buf = 0;
    unsigned fill = 0;
    for (unsigned i = 0; i < iters; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        if (fill < LANES) {
            const ap_uint<MEM_BITS> m = in.read();
            ap_uint<(E + LANES) * BITS> narrow = 0;
            for (int e = 0; e < E; e++) {
#pragma HLS UNROLL
                narrow.range(e * BITS + BITS - 1, e * BITS) = m.range(e * CONT + BITS - 1, e * CONT);
            }
            buf |= narrow << (fill * BITS);
            fill += E;
        }
        if (fill >= LANES) {
            out.write(buf.range(LANES * BITS - 1, 0));
            buf >>= LANES * BITS;
            fill -= LANES;
        }
    }
}

// Internal words -> memory words: extend each element to its container; the last memory word is
// flushed with a zero tail.
template <int LANES, int BITS, bool SIGNED, int MEM_BITS>
void pack(hls::stream<ap_uint<LANES * BITS> >& in, hls::stream<ap_uint<MEM_BITS> >& out, unsigned n_words) {
    static const int CONT = container_bits<BITS>::value, E = MEM_BITS / CONT;
    const unsigned n_mem = mem_words<LANES, BITS, MEM_BITS>(n_words);
    // One iteration more than the reads: after the last read a full word and the tail may both wait.
    const unsigned iters = n_mem > n_words ? n_mem : n_words + 1;
#ifndef __SYNTHESIS__
    if (sim::fast_paths()) {  // simulation: the same containers through native lanes
        int64_t lanes[E + LANES];
        unsigned held = 0, done = 0;  // done: FA_CYCLE iterations so far, advanced as the loop's
        bool wrote = false;           // the current iteration has written a memory word
        for (unsigned k = 0; k < n_words; k++) {
            ++sim::cycles(), ++done;  // the iteration that reads
            wrote = false;
            sim::unpack_word<LANES, BITS, SIGNED>(in.read(), lanes + held);  // sign- or zero-extended
            held += LANES;
            unsigned at = 0;
            for (; held - at >= (unsigned)E; at += E) {
                if (wrote) ++sim::cycles(), ++done;  // a further word: an iteration without a read
                out.write(sim::pack_word<E, CONT>(lanes + at));
                wrote = true;
            }
            for (unsigned j = at; j < held; j++) lanes[j - at] = lanes[j];
            held -= at;
        }
        if (held > 0) {  // the tail, zero-filled
            if (wrote || done == 0) ++sim::cycles(), ++done;
            for (unsigned j = held; j < (unsigned)E; j++) lanes[j] = 0;
            out.write(sim::pack_word<E, CONT>(lanes));
        }
        if (done < iters) sim::cycles() += iters - done;
        return;
    }
#endif
    ap_uint<(E + LANES) * BITS> buf = 0;
    unsigned fill = 0, read = 0;
    for (unsigned i = 0; i < iters; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        if (fill < E && read < n_words) {
            ap_uint<(E + LANES) * BITS> w = in.read();
            buf |= w << (fill * BITS);
            fill += LANES;
            read++;
        }
        if (fill >= E || (read == n_words && fill > 0)) {  // a full memory word, or the tail
            ap_uint<MEM_BITS> m = 0;
            for (int e = 0; e < E; e++) {
#pragma HLS UNROLL
                ap_int<CONT> v;  // sign- or zero-extend the element into its container
                if (SIGNED) v = ap_int<BITS>(buf.range(e * BITS + BITS - 1, e * BITS));
                else v = ap_uint<BITS>(buf.range(e * BITS + BITS - 1, e * BITS));
                if (unsigned(e) < fill) m.range(e * CONT + CONT - 1, e * CONT) = v.range(CONT - 1, 0);
            }
            out.write(m);
            buf >>= E * BITS;
            fill = fill > unsigned(E) ? fill - E : 0;
        }
    }
}

// The region holds only process calls (canonical DATAFLOW); each process derives its counts.
template <int LANES, int BITS, int MEM_BITS>
void mem_to_stream(const ap_uint<MEM_BITS>* mem, hls::stream<ap_uint<LANES * BITS> >& out, unsigned words,
                   unsigned reps = 1) {
#pragma HLS DATAFLOW
    hls::stream<ap_uint<MEM_BITS> > raw("mem_to_stream.raw");
#pragma HLS STREAM variable = raw depth = 64
    mem_read<LANES, BITS, MEM_BITS>(mem, raw, words * reps);
    unpack<LANES, BITS, MEM_BITS>(raw, out, words * reps);
}

template <int LANES, int BITS, bool SIGNED, int MEM_BITS>
void stream_to_mem(hls::stream<ap_uint<LANES * BITS> >& in, ap_uint<MEM_BITS>* mem, unsigned words,
                   unsigned reps = 1) {
#pragma HLS DATAFLOW
    hls::stream<ap_uint<MEM_BITS> > raw("stream_to_mem.raw");
#pragma HLS STREAM variable = raw depth = 64
    pack<LANES, BITS, SIGNED, MEM_BITS>(in, raw, words * reps);
    mem_write<LANES, BITS, MEM_BITS>(raw, mem, words * reps);
}

}  // namespace fa

#endif  // FA_MAXI_IO_H
