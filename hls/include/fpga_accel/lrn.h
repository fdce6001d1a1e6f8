// fpga-accel HLS library: local response normalisation across channels (LRN: AlexNet, GoogLeNet), in
// the integer form of ops/lrn.py:
//            xc = q - IN_ZP,  S[c] = sum of xc^2 over channels c - (SIZE-1)/2 .. c + SIZE/2 (clipped),
//            idx = min((S + 2^(IDX_SHIFT-1)) >> IDX_SHIFT, 2^TABLE_BITS - 1),
//            y = requantize(xc * table[idx], M, SHIFT, OUT_ZP, OUT_LO, OUT_HI)
// with table[i] = 2^F * (bias + alpha/size * s_in^2 * i * 2^IDX_SHIFT)^-beta computed at compile time.
//
// lrn : per pixel the C/LANES words go into one half of a two-pixel buffer (the centred values and
//       the running prefix sums of their squares) while the previous pixel comes out of the other
//       half, each lane's window sum a difference of two prefix sums; one word in and one out per
//       cycle, one pixel behind. The table is first copied into one ROM per lane.
//       Cycles/call (II=1) = 2^TABLE_BITS + (N_PIXELS*reps + 1)*CF, CF = C/LANES.
//       Config: N_PIXELS, C, LANES, IN_BITS, IN_SIGNED, IN_ZP, SIZE, S_BITS, IDX_SHIFT, TABLE_BITS,
//       T_BITS, M, SHIFT, OUT_BITS, OUT_ZP, OUT_LO, OUT_HI.
#ifndef FA_LRN_H
#define FA_LRN_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void lrn(hls::stream<ap_uint<CFG::LANES * CFG::IN_BITS> >& in, hls::stream<ap_uint<CFG::LANES * CFG::OUT_BITS> >& out,
         const ap_uint<CFG::T_BITS> table[1 << CFG::TABLE_BITS], unsigned reps = 1) {
    static const unsigned C = CFG::C, L = CFG::LANES, CF = C / L, N = 1u << CFG::TABLE_BITS;
    static const int BEFORE = (CFG::SIZE - 1) / 2, AFTER = CFG::SIZE - 1 - BEFORE;
    static const int SW = CFG::S_BITS + 1, W = CFG::IN_BITS + 2 + CFG::T_BITS;
    static_assert(C % L == 0, "LANES must divide C");
    ap_uint<CFG::T_BITS> rom[L][N];
#pragma HLS ARRAY_PARTITION variable = rom complete dim = 1
    for (unsigned e = 0; e < N; e++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        for (unsigned l = 0; l < L; l++) {
#pragma HLS UNROLL
            rom[l][e] = table[e];
        }
    }
    ap_int<CFG::IN_BITS + 2> xc[2][C];
    ap_uint<SW> prefix[2][C + 1];  // prefix[h][c]: sum of the squares of channels 0 .. c-1
#pragma HLS ARRAY_PARTITION variable = xc complete dim = 0
#pragma HLS ARRAY_PARTITION variable = prefix complete dim = 0
    prefix[0][0] = 0;
    prefix[1][0] = 0;
    const unsigned n_in = CFG::N_PIXELS * CF * reps;
    unsigned w = 0, half = 0;  // word within the pixel, buffer half being written
    for (unsigned i = 0; i < n_in + CF; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        if (i >= CF) {  // the previous pixel, from the other half
            const unsigned h = half ^ 1;
            ap_uint<L * CFG::OUT_BITS> y = 0;
            for (unsigned l = 0; l < L; l++) {
#pragma HLS UNROLL
                const int c = w * L + l;
                const int first = c - BEFORE < 0 ? 0 : c - BEFORE;
                const int last = c + AFTER > (int)C - 1 ? (int)C - 1 : c + AFTER;
                const ap_uint<SW> s = prefix[h][last + 1] - prefix[h][first];
                ap_uint<SW> idx = (s + ((ap_uint<SW>(1) << CFG::IDX_SHIFT) >> 1)) >> CFG::IDX_SHIFT;
                if (idx > N - 1) idx = N - 1;
                const ap_int<W> acc = ap_int<W>(xc[h][c]) * rom[l][idx];
                set_lane<CFG::OUT_BITS>(y, l, requantize<W>(acc, CFG::M, CFG::SHIFT, CFG::OUT_ZP, CFG::OUT_LO, CFG::OUT_HI));
            }
            out.write(y);
        }
        if (i < n_in) {
            const ap_uint<L * CFG::IN_BITS> x = in.read();
            ap_uint<SW> run = prefix[half][w * L];
            for (unsigned l = 0; l < L; l++) {
#pragma HLS UNROLL
                ap_int<CFG::IN_BITS + 2> v = get_lane<CFG::IN_BITS, CFG::IN_SIGNED>(x, l);
                v -= CFG::IN_ZP;
                xc[half][w * L + l] = v;
                run += ap_uint<SW>(v * v);
                prefix[half][w * L + l + 1] = run;
            }
        }
        if (++w == CF) w = 0, half ^= 1;
    }
}

}  // namespace fa

#endif  // FA_LRN_H
