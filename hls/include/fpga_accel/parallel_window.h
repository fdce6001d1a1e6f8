// fpga-accel HLS library: sliding window with kernel-position and pixel parallelism, for a
// convolution whose SIMD spans whole pixels (SIMD = KP*C, KP kernel positions per output word) and
// PX adjacent output pixels per word.
//
// In : IH*IW/PX words of PX*C lanes (PX pixels per word, NHWC; PX divides IW), one image after another.
// Out: for each group of PX output pixels (oy, ox0 .. ox0+PX-1; PX divides OW), row-major, NW =
//      KH*KW/KP words of PX*KP*C lanes: lane x*SIMD + q*C + c of word j is channel c of kernel
//      position t = j*KP + q (t = ky*KW + kx) of output pixel ox0 + x. At PX = 1 that is the MVAU
//      column order (ky*KW + kx)*C + c with SIMD = KP*C, so the MVAU and its weight layout are those
//      of sliding_window.h's MVAU order; at PX > 1 each PX-th of a word is that word of one pixel.
//      KP = KH*KW is one whole window per pixel per word.
//      Window element (ky, kx) and its padding (PAD_VALUE in every lane) are sliding_window.h's.
//
// Line buffer: LB_ROWS = SPAN_H + SH row slots, as in sliding_window.h, each row WPR = IW/PX words of
// PX pixels split over NB banks of BANK_DEPTH = ceil(WPR/NB) words: word wi of a row lives in bank
// (slot, wi % NB) at wi / NB. A group of PX output pixels reads the input columns x0 .. x0 + GW - 1
// (x0 = ox0*SW - PAD_L, GW = (PX-1)*SW + SPAN_W), which lie in at most NB = ceil((GW-1)/PX) + 1
// consecutive words, so in distinct banks; their rows are ky*DH < LB_ROWS slots apart. At the first
// word of a group every bank is read once, in parallel, into the KH x NB*PX register window; its NW
// words are then multiplexed out of the registers (x0 - PX*floor(x0/PX) is the same in every group:
// the multiplexers are fixed). The reader writes one bank per cycle, in a slot the current output
// row does not use: one read and one write port per bank (simple dual port). At PX = 1, NB = SPAN_W.
// The row schedule is sliding_window.h's with WPR words per input row and NW words per group of PX
// windows: an output row reads the rows the next output row needs and up to SH rows more while the
// ring has room (rows first(oy) .. first(oy) + LB_ROWS - 1, first(oy) = max(0, oy*SH - PAD_T)), into
// the next image's rows 0 .. LAST(0) when another image follows (window_read_target in
// sliding_window.h). Each image starts with a prologue of the rows its output row 0 needs that were
// not read ahead (all LAST(0)+1 of them for the first image of a call); the reads and the emits of an
// output row are spread evenly over max(reads, emits) iterations.
// A producer at the network's pace needs a FIFO of (LAST(0)+1)*WPR words in front (the first
// image's prologue; fpga_accel/pe/parallel_window.py: input_slack).
// Cycles/image (II=1) = prologue rows not read ahead * WPR + sum_{oy<OH} max(OW/PX*NW, rows read * WPR)
// (pe/parallel_window.py: image_cycles); steady state about max(OH*OW/PX*NW, IH*IW/PX).
//
// Config: sliding_window.h's members (IH .. PAD_R, BITS, PAD_VALUE) with SIMD = KP*C, KP a divisor
// of KH*KW, and PX; DEPTHWISE is not read (MVAU order only).
#ifndef FA_PARALLEL_WINDOW_H
#define FA_PARALLEL_WINDOW_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/sliding_window.h"
#include "fpga_accel/types.h"

namespace fa {

template <class CFG> struct parallel_window_dims {
    static const int PX = CFG::PX;                  // output pixels per word
    static const int KP = CFG::SIMD / CFG::C;       // kernel positions per output word
    static const int TAPS = CFG::KH * CFG::KW;
    static const int NW = TAPS / KP;                // words per group of PX output pixels
    static const int SPAN_W = window_dims<CFG>::SPAN_W;
    static const int WPR = CFG::IW / PX;            // input words per row
    static const int GW = (PX - 1) * CFG::SW + SPAN_W;  // input columns a group reads
    static const int NB = (GW + PX - 2) / PX + 1;   // banks: the most words GW columns touch
    static const int COLS = NB * PX;                // register window columns
    static const int BANK_DEPTH = (WPR + NB - 1) / NB;
    static const int OFF = (PX - CFG::PAD_L % PX) % PX;  // x0 - PX*floor(x0/PX), the same in every group
    static const int W0 = -((CFG::PAD_L + PX - 1) / PX);  // floor(x0/PX) of the first group
};

template <class CFG>
void parallel_window(hls::stream<ap_uint<CFG::PX * CFG::C * CFG::BITS> >& in,
                     hls::stream<ap_uint<CFG::PX * CFG::SIMD * CFG::BITS> >& out, unsigned reps = 1) {
    typedef window_dims<CFG> D;
    typedef parallel_window_dims<CFG> P;
    typedef ap_uint<CFG::C * CFG::BITS> pixel_t;
    typedef ap_uint<CFG::PX * CFG::C * CFG::BITS> in_t;
    typedef ap_uint<CFG::PX * CFG::SIMD * CFG::BITS> word_t;
    static const int PIXEL_BITS = CFG::C * CFG::BITS;
    static_assert(CFG::SIMD % CFG::C == 0 && P::TAPS % P::KP == 0, "SIMD must be KP*C with KP dividing KH*KW");
    static_assert(CFG::IW % P::PX == 0 && D::OW % P::PX == 0, "PX must divide the input and output widths");
    static_assert(CFG::PAD_T < D::SPAN_H && CFG::PAD_B < D::SPAN_H, "vertical pad must be below the span");
    static_assert(CFG::PAD_L < P::SPAN_W && CFG::PAD_R < P::SPAN_W, "horizontal pad must be below the span");
    static_assert(D::OH > 0 && D::OW > 0, "window larger than the padded input");

    in_t bank[D::LB_ROWS][P::NB][P::BANK_DEPTH];
#pragma HLS ARRAY_PARTITION variable = bank complete dim = 1
#pragma HLS ARRAY_PARTITION variable = bank complete dim = 2
#pragma HLS BIND_STORAGE variable = bank type = ram_s2p
    pixel_t win[CFG::KH][P::COLS];  // win[ky][col]: input column PX*floor(x0/PX) + col of window row ky
#pragma HLS ARRAY_PARTITION variable = win complete dim = 0
    const pixel_t pad = splat<CFG::C, CFG::BITS>(CFG::PAD_VALUE);

    // Where the next input word goes: row slot, bank (wi % NB) and bank address (wi / NB) of word wi
    // of its row. Rows are counted from row 0 of the image being emitted (rrow >= IH: the next
    // image's rows, read ahead); row r of that image is in slot (slot0 + r) % LB_ROWS.
    int rslot = 0, rbank = 0, raddr = 0, rcol = 0, rrow = 0, slot0 = 0;
    const int first_rows = window_last_row<CFG>(0) + 1;
    for (unsigned rep = 0; rep < reps; rep++) {
        const bool more = rep + 1 < reps;
        // Prologue: the rows output row 0 needs that were not read ahead during the last image.
        const int pre_words = (first_rows - rrow) * P::WPR;
        for (int i = 0; i < pre_words; i++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            bank[rslot][rbank][raddr] = in.read();
            if (++rbank == P::NB) { rbank = 0; raddr++; }
            if (++rcol == P::WPR) { rcol = 0; rbank = 0; raddr = 0; rrow++; if (++rslot == D::LB_ROWS) rslot = 0; }
        }
        int base = (slot0 + D::LB_ROWS - CFG::PAD_T) % D::LB_ROWS;  // slot of row oy*SH - PAD_T
        for (int oy = 0; oy < D::OH; oy++) {
            const int y0 = oy * CFG::SH - CFG::PAD_T;
            const int last_used = window_last_row<CFG>(D::OH - 1);
            const int target = window_read_target<CFG>(oy, rrow, more);
            const int n_read = (target + 1 - rrow) * P::WPR;
            const int n_emit = D::OW / P::PX * P::NW;
            const int n = n_read > n_emit ? n_read : n_emit;
            int j = 0;
            int w0 = P::W0;                                        // first input word of group ox0
            int ph0 = ((P::W0 % P::NB) + P::NB) % P::NB;           // w0 mod NB, in [0, NB)
            int racc = n - 1, eacc = n - 1;  // reads and emits each spread evenly (sliding_window.h)
            for (int i = 0; i < n; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = bank inter false
                FA_CYCLE();
                racc += n_read;
                eacc += n_emit;
                const bool do_read = racc >= n, do_emit = eacc >= n;
                if (do_read) racc -= n;
                if (do_emit) eacc -= n;
                if (do_read) {  // rows for the next output row, into slots this row does not use
                    in_t w = in.read();
                    if (rrow <= last_used || rrow >= CFG::IH) bank[rslot][rbank][raddr] = w;
                    if (++rbank == P::NB) { rbank = 0; raddr++; }
                    if (++rcol == P::WPR) { rcol = 0; rbank = 0; raddr = 0; rrow++; if (++rslot == D::LB_ROWS) rslot = 0; }
                }
                if (do_emit) {
                    if (j == 0) {  // load the register window: every bank read once
                        for (int s = 0; s < D::LB_ROWS; s++) {
#pragma HLS UNROLL
                            int dy = s - base;  // this slot's row offset in the window
                            if (dy < 0) dy += D::LB_ROWS;
                            const int iy = y0 + dy;
                            const bool row_used = dy % CFG::DH == 0 && dy / CFG::DH < CFG::KH;
                            for (int m = 0; m < P::NB; m++) {
#pragma HLS UNROLL
                                int k = m - ph0;  // this bank's word in the group's range
                                if (k < 0) k += P::NB;
                                const int wi = w0 + k;  // wi % NB == m
                                const bool inside = iy >= 0 && iy < CFG::IH && wi >= 0 && wi < P::WPR;
                                const in_t v = bank[s][m][inside ? wi / P::NB : 0];
                                if (row_used) {
                                    for (int e = 0; e < P::PX; e++) {
#pragma HLS UNROLL
                                        win[dy / CFG::DH][k * P::PX + e] =
                                            inside ? pixel_t(v.range((e + 1) * PIXEL_BITS - 1, e * PIXEL_BITS)) : pad;
                                    }
                                }
                            }
                        }
                    }
                    word_t w = 0;
                    for (int x = 0; x < P::PX; x++) {
#pragma HLS UNROLL
                        for (int q = 0; q < P::KP; q++) {
#pragma HLS UNROLL
                            const int t = j * P::KP + q, ky = t / CFG::KW, kx = t % CFG::KW;
                            const int lane = x * P::KP + q;
                            w.range((lane + 1) * PIXEL_BITS - 1, lane * PIXEL_BITS) =
                                win[ky][P::OFF + x * CFG::SW + kx * CFG::DW];
                        }
                    }
                    out.write(w);
                    if (++j == P::NW) {
                        j = 0;
                        w0 += CFG::SW;  // the next group starts PX*SW columns on: SW words
                        ph0 += CFG::SW % P::NB;
                        if (ph0 >= P::NB) ph0 -= P::NB;
                    }
                }
            }
            base += CFG::SH;
            if (base >= D::LB_ROWS) base -= D::LB_ROWS;
        }
        rrow -= CFG::IH;  // the next image's rows read ahead
        slot0 = (slot0 + CFG::IH) % D::LB_ROWS;
    }
}

}  // namespace fa

#endif  // FA_PARALLEL_WINDOW_H
