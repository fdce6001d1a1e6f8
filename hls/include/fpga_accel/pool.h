// fpga-accel HLS library: pooling PEs (max, average, global average, global max).
//
// max_pool / avg_pool read the sliding_window stream in DEPTHWISE order (per output pixel, per
// channel group cf, the K = KH*KW window words of SIMD channels, kx fastest) and write per output
// pixel CF = C/SIMD words of SIMD channels (NHWC). Cycles/image (II=1) = OH*OW*CF*KH*KW.
//   max_pool : y = clamp(max over the window, OUT_LO, OUT_HI); the window is padded with the
//              type minimum (PAD_VALUE), so padding never wins. Output type = input type.
//   avg_pool : acc = sum over the window of (q - IN_ZP); padding carries IN_ZP (PAD_VALUE) and adds 0,
//              so the sum of all K words minus K*IN_ZP is the sum over the valid elements.
//              y = requantize(acc, m[d], shift[d], OUT_ZP, OUT_LO, OUT_HI) with divisor d = K when
//              COUNT_INCLUDE_PAD, else the number of window elements inside the image (1..K);
//              m/shift are tables indexed by d (entries for divisors that never occur are unused).
//   The config is the sliding_window config (same struct) plus IN_SIGNED, OUT_LO, OUT_HI and, for
//   avg_pool, IN_ZP, ACC_BITS, OUT_BITS, OUT_ZP, COUNT_INCLUDE_PAD (quant/rescale.py:pool_constants).
//
// global_max_pool / global_avg_pool read N_PIXELS*CF words of SIMD channels (one image, NHWC) and
// write CF words: per channel the max (then clamp) or requantize(sum(q - IN_ZP), m, shift, ...),
// with m/shift those of divisor N_PIXELS. Cycles/image (II=1) = N_PIXELS*CF + CF.
//   Config: N_PIXELS, C, SIMD, BITS, IN_SIGNED, OUT_LO, OUT_HI; avg adds IN_ZP, ACC_BITS, OUT_BITS, OUT_ZP.
#ifndef FA_POOL_H
#define FA_POOL_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/sliding_window.h"
#include "fpga_accel/types.h"

namespace fa {

template <class CFG>
void max_pool(hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& in, hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& out,
              unsigned reps = 1) {
    typedef window_dims<CFG> D;
    typedef typename qint<CFG::BITS, CFG::IN_SIGNED>::type elem_t;
    static const int K = CFG::KH * CFG::KW;
    elem_t best[CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = best complete
    int k = 0;
    for (unsigned i = 0; i < D::OH * D::OW * D::CF * K * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::SIMD * CFG::BITS> x = in.read();
        ap_uint<CFG::SIMD * CFG::BITS> y = 0;
        for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
            const elem_t v = get_lane<CFG::BITS, CFG::IN_SIGNED>(x, s);
            elem_t b = (k == 0 || v > best[s]) ? v : best[s];
            best[s] = b;
            int r = b < CFG::OUT_LO ? CFG::OUT_LO : (b > CFG::OUT_HI ? CFG::OUT_HI : int(b));
            set_lane<CFG::BITS>(y, s, r);
        }
        if (k == K - 1) out.write(y);
        if (++k == K) k = 0;
    }
}

// Number of taps of a window dimension that fall inside the image, for window start o*S - PAD.
template <int N, int K, int S, int DIL, int PAD>
int taps_inside(int o) {
#pragma HLS INLINE
    int n = 0;
    for (int t = 0; t < K; t++) {
#pragma HLS UNROLL
        const int i = o * S - PAD + t * DIL;
        n += (i >= 0 && i < N) ? 1 : 0;
    }
    return n;
}

template <class CFG>
void avg_pool(hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& in, hls::stream<ap_uint<CFG::SIMD * CFG::OUT_BITS> >& out,
              const mult_t m[CFG::KH * CFG::KW + 1], const shift_t shift[CFG::KH * CFG::KW + 1], unsigned reps = 1) {
    typedef window_dims<CFG> D;
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static const int K = CFG::KH * CFG::KW;
    acc_t acc[CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = acc complete
    int k = 0, cf = 0, ox = 0, oy = 0;
    for (unsigned i = 0; i < D::OH * D::OW * D::CF * K * reps; i++) {
#pragma HLS PIPELINE II = 1
        FA_CYCLE();
        const ap_uint<CFG::SIMD * CFG::BITS> x = in.read();
        const int d = CFG::COUNT_INCLUDE_PAD ? K
                      : taps_inside<CFG::IH, CFG::KH, CFG::SH, CFG::DH, CFG::PAD_T>(oy) *
                            taps_inside<CFG::IW, CFG::KW, CFG::SW, CFG::DW, CFG::PAD_L>(ox);
        ap_uint<CFG::SIMD * CFG::OUT_BITS> y = 0;
        for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
            acc_t a = (k == 0 ? acc_t(-K * CFG::IN_ZP) : acc[s]) + get_lane<CFG::BITS, CFG::IN_SIGNED>(x, s);
            acc[s] = a;
            set_lane<CFG::OUT_BITS>(y, s, requantize<CFG::ACC_BITS>(a, m[d], shift[d], CFG::OUT_ZP, CFG::OUT_LO,
                                                                    CFG::OUT_HI));
        }
        if (k == K - 1) out.write(y);
        // Advance (oy, ox, cf, k).
        if (++k == K) { k = 0; if (++cf == D::CF) { cf = 0; if (++ox == D::OW) { ox = 0; if (++oy == D::OH) oy = 0; } } }
    }
}

template <class CFG>
void global_max_pool(hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& in, hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& out,
                     unsigned reps = 1) {
    typedef typename qint<CFG::BITS, CFG::IN_SIGNED>::type elem_t;
    static const unsigned CF = CFG::C / CFG::SIMD;
    elem_t best[CF][CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = best complete dim = 2
    for (unsigned rep = 0; rep < reps; rep++) {
        unsigned cf = 0, px = 0;
        for (unsigned i = 0; i < CFG::N_PIXELS * CF; i++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            const ap_uint<CFG::SIMD * CFG::BITS> x = in.read();
            for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
                const elem_t v = get_lane<CFG::BITS, CFG::IN_SIGNED>(x, s);
                if (px == 0 || v > best[cf][s]) best[cf][s] = v;
            }
            if (++cf == CF) { cf = 0; px++; }
        }
        for (unsigned c = 0; c < CF; c++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            ap_uint<CFG::SIMD * CFG::BITS> y = 0;
            for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
                const elem_t b = best[c][s];
                set_lane<CFG::BITS>(y, s, b < CFG::OUT_LO ? CFG::OUT_LO : (b > CFG::OUT_HI ? CFG::OUT_HI : int(b)));
            }
            out.write(y);
        }
    }
}

template <class CFG>
void global_avg_pool(hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& in,
                     hls::stream<ap_uint<CFG::SIMD * CFG::OUT_BITS> >& out, const mult_t m, const shift_t shift,
                     unsigned reps = 1) {
    typedef ap_int<CFG::ACC_BITS> acc_t;
    static const unsigned CF = CFG::C / CFG::SIMD;
    acc_t acc[CF][CFG::SIMD];
#pragma HLS ARRAY_PARTITION variable = acc complete dim = 2
    for (unsigned rep = 0; rep < reps; rep++) {
        unsigned cf = 0, px = 0;
        for (unsigned i = 0; i < CFG::N_PIXELS * CF; i++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            const ap_uint<CFG::SIMD * CFG::BITS> x = in.read();
            for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
                // Start from -N*IN_ZP so the total is the sum of the centred values.
                const acc_t a = px == 0 ? acc_t(-(long long)CFG::N_PIXELS * CFG::IN_ZP) : acc[cf][s];
                acc[cf][s] = a + get_lane<CFG::BITS, CFG::IN_SIGNED>(x, s);
            }
            if (++cf == CF) { cf = 0; px++; }
        }
        for (unsigned c = 0; c < CF; c++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            ap_uint<CFG::SIMD * CFG::OUT_BITS> y = 0;
            for (unsigned s = 0; s < CFG::SIMD; s++) {
#pragma HLS UNROLL
                set_lane<CFG::OUT_BITS>(y, s, requantize<CFG::ACC_BITS>(acc[c][s], m, shift, CFG::OUT_ZP, CFG::OUT_LO,
                                                                        CFG::OUT_HI));
            }
            out.write(y);
        }
    }
}

}  // namespace fa

#endif  // FA_POOL_H
