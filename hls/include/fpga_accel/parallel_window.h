// fpga-accel HLS library: sliding window with kernel-position parallelism, for a convolution whose
// SIMD spans whole pixels (SIMD = KP*C, KP kernel positions per output word).
//
// In : IH*IW words of C channels (one pixel per word, NHWC), one image after another.
// Out: for each output pixel (oy, ox), row-major, NW = KH*KW/KP words of KP*C lanes: word j holds
//      the kernel positions t = j*KP .. j*KP+KP-1 (t = ky*KW + kx), lane p*C + c is channel c of
//      position j*KP + p. That is the MVAU column order (ky*KW + kx)*C + c with SIMD = KP*C, so
//      the MVAU and its weight layout are those of sliding_window.h's MVAU order. KP = KH*KW is
//      one whole window per word.
//      Window element (ky, kx) and its padding (PAD_VALUE in every lane) are sliding_window.h's.
//
// Line buffer: LB_ROWS = SPAN_H + SH row slots, as in sliding_window.h, split into LB_ROWS x SPAN_W
// banks of BANK_DEPTH = ceil(IW/SPAN_W) pixels: pixel ix of a row lives in bank (slot, ix % SPAN_W)
// at ix / SPAN_W. The KH*KW positions of a window lie in distinct banks (their rows are ky*DH <
// LB_ROWS slots apart, their columns kx*DW < SPAN_W apart), so at the first word of an output
// pixel every bank is read once, in parallel, into the KH x KW register window; its NW words are
// then multiplexed out of the registers. The reader writes one bank per cycle, in a slot the
// current output row does not use: one read and one write port per bank (simple dual port).
// The row schedule is sliding_window.h's with one word per input pixel and NW words per window,
// except that images follow each other without a prologue: an output row reads the rows the next
// output row needs and up to SH rows more while the ring has room (rows first(oy) .. first(oy) +
// LB_ROWS - 1, first(oy) = max(0, oy*SH - PAD_T)), into the next image's rows 0 .. LAST(0) when
// another image follows (window_read_target in sliding_window.h). Each image starts with a prologue of the rows its output
// row 0 needs that were not read ahead (all LAST(0)+1 of them for the first image of a call); the
// reads and the emits of an output row are spread evenly over max(reads, emits) iterations.
// A producer at the network's pace needs a FIFO of (LAST(0)+1)*IW words in front (the first
// image's prologue; fpga_accel/pe/parallel_window.py: input_slack).
// Cycles/image (II=1) = prologue rows not read ahead * IW + sum_{oy<OH} max(OW*NW, rows read * IW)
// (pe/parallel_window.py: image_cycles); steady state about max(OH*OW*NW, IH*IW).
//
// Config: sliding_window.h's members (IH .. PAD_R, BITS, PAD_VALUE) with SIMD = KP*C, KP a divisor
// of KH*KW; DEPTHWISE is not read (MVAU order only).
#ifndef FA_PARALLEL_WINDOW_H
#define FA_PARALLEL_WINDOW_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/sliding_window.h"
#include "fpga_accel/types.h"

namespace fa {

template <class CFG> struct parallel_window_dims {
    static const int KP = CFG::SIMD / CFG::C;  // kernel positions per output word
    static const int TAPS = CFG::KH * CFG::KW;
    static const int NW = TAPS / KP;  // words per output pixel
    static const int SPAN_W = window_dims<CFG>::SPAN_W;
    static const int BANK_DEPTH = (CFG::IW + SPAN_W - 1) / SPAN_W;
};

template <class CFG>
void parallel_window(hls::stream<ap_uint<CFG::C * CFG::BITS> >& in,
                     hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& out, unsigned reps = 1) {
    typedef window_dims<CFG> D;
    typedef parallel_window_dims<CFG> P;
    typedef ap_uint<CFG::C * CFG::BITS> pixel_t;
    typedef ap_uint<CFG::SIMD * CFG::BITS> word_t;
    static_assert(CFG::SIMD % CFG::C == 0 && P::TAPS % P::KP == 0, "SIMD must be KP*C with KP dividing KH*KW");
    static_assert(CFG::PAD_T < D::SPAN_H && CFG::PAD_B < D::SPAN_H, "vertical pad must be below the span");
    static_assert(CFG::PAD_L < P::SPAN_W && CFG::PAD_R < P::SPAN_W, "horizontal pad must be below the span");
    static_assert(D::OH > 0 && D::OW > 0, "window larger than the padded input");

    pixel_t bank[D::LB_ROWS][P::SPAN_W][P::BANK_DEPTH];
#pragma HLS ARRAY_PARTITION variable = bank complete dim = 1
#pragma HLS ARRAY_PARTITION variable = bank complete dim = 2
#pragma HLS BIND_STORAGE variable = bank type = ram_s2p
    pixel_t win[P::TAPS];
#pragma HLS ARRAY_PARTITION variable = win complete
    const pixel_t pad = splat<CFG::C, CFG::BITS>(CFG::PAD_VALUE);

    // Where the next input pixel goes: row slot, column phase (ix % SPAN_W) and bank address. Rows
    // are counted from row 0 of the image being emitted (rrow >= IH: the next image's rows, read
    // ahead); row r of that image is in slot (slot0 + r) % LB_ROWS.
    int rslot = 0, rphase = 0, raddr = 0, rcol = 0, rrow = 0, slot0 = 0;
    const int first_rows = window_last_row<CFG>(0) + 1;
    for (unsigned rep = 0; rep < reps; rep++) {
        const bool more = rep + 1 < reps;
        // Prologue: the rows output row 0 needs that were not read ahead during the last image.
        const int pre_words = (first_rows - rrow) * CFG::IW;
        for (int i = 0; i < pre_words; i++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            bank[rslot][rphase][raddr] = in.read();
            if (++rphase == P::SPAN_W) { rphase = 0; raddr++; }
            if (++rcol == CFG::IW) { rcol = 0; rphase = 0; raddr = 0; rrow++; if (++rslot == D::LB_ROWS) rslot = 0; }
        }
        int base = (slot0 + D::LB_ROWS - CFG::PAD_T) % D::LB_ROWS;  // slot of row oy*SH - PAD_T
        for (int oy = 0; oy < D::OH; oy++) {
            const int y0 = oy * CFG::SH - CFG::PAD_T;
            const int last_used = window_last_row<CFG>(D::OH - 1);
            const int target = window_read_target<CFG>(oy, rrow, more);
            const int n_read = (target + 1 - rrow) * CFG::IW;
            const int n_emit = D::OW * P::NW;
            const int n = n_read > n_emit ? n_read : n_emit;
            int j = 0;
            int x0 = -CFG::PAD_L;                                   // first input column of window ox
            int ph0 = (P::SPAN_W - CFG::PAD_L % P::SPAN_W) % P::SPAN_W;  // x0 mod SPAN_W, in [0, SPAN_W)
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
                    pixel_t w = in.read();
                    if (rrow <= last_used || rrow >= CFG::IH) bank[rslot][rphase][raddr] = w;
                    if (++rphase == P::SPAN_W) { rphase = 0; raddr++; }
                    if (++rcol == CFG::IW) { rcol = 0; rphase = 0; raddr = 0; rrow++; if (++rslot == D::LB_ROWS) rslot = 0; }
                }
                if (do_emit) {
                    if (j == 0) {  // load the register window: every bank read once
                        for (int s = 0; s < D::LB_ROWS; s++) {
#pragma HLS UNROLL
                            int dy = s - base;  // this slot's row offset in the window
                            if (dy < 0) dy += D::LB_ROWS;
                            const int iy = y0 + dy;
                            const bool row_used = dy % CFG::DH == 0 && dy / CFG::DH < CFG::KH;
                            for (int m = 0; m < P::SPAN_W; m++) {
#pragma HLS UNROLL
                                int dx = m - ph0;  // this phase's column offset in the window
                                if (dx < 0) dx += P::SPAN_W;
                                const int ix = x0 + dx;  // ix % SPAN_W == m
                                const bool inside = iy >= 0 && iy < CFG::IH && ix >= 0 && ix < CFG::IW;
                                const pixel_t v = bank[s][m][inside ? ix / P::SPAN_W : 0];
                                if (row_used && dx % CFG::DW == 0)
                                    win[(dy / CFG::DH) * CFG::KW + dx / CFG::DW] = inside ? v : pad;
                            }
                        }
                    }
                    word_t w = 0;
                    for (int p = 0; p < P::KP; p++) {
#pragma HLS UNROLL
                        w.range((p + 1) * CFG::C * CFG::BITS - 1, p * CFG::C * CFG::BITS) = win[j * P::KP + p];
                    }
                    out.write(w);
                    if (++j == P::NW) {
                        j = 0;
                        x0 += CFG::SW;
                        ph0 += CFG::SW % P::SPAN_W;
                        if (ph0 >= P::SPAN_W) ph0 -= P::SPAN_W;
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
