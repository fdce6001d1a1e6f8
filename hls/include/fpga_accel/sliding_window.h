// fpga-accel HLS library: sliding window generator (line buffer) for K x K convolution and pooling.
//
// In : IH*IW*CF words of SIMD channels (NHWC, CF = C/SIMD), one image after another.
// Out: for each output pixel (oy, ox), row-major, the KH*KW*C window values as KH*KW*CF words:
//        DEPTHWISE == false (MVAU / im2col order): ky, kx, cf   (cf fastest)
//        DEPTHWISE == true  (depthwise and pooling): cf, ky, kx (kx fastest)
//      The window element (ky, kx) is input pixel (oy*SH - PAD_T + ky*DH, ox*SW - PAD_L + kx*DW);
//      outside the image it is PAD_VALUE in every lane: the input zero point for conv and average
//      pooling (the padded value then means real 0), the type minimum for max pooling.
//      In MVAU order the im2col column of channel c at (ky, kx) is (ky*KW + kx)*C + c, which is the
//      column order of the weight matrix the MVAU expects.
//
// Line buffer: LB_ROWS = SPAN_H + SH input rows (SPAN_H = DH*(KH-1)+1), a dual-port memory of
// LB_ROWS*IW*CF words. While output row oy is emitted, the rows output row oy+1 needs are read into
// the slots oy no longer uses, so reading and emitting overlap; within the row the reads and the
// emits are each spread evenly over its iterations (one read every n/n_read of them).
// Images follow each other without a gap: an output row reads the rows the next output row needs
// and up to SH rows more while the ring has room (rows first(oy) .. first(oy) + LB_ROWS - 1,
// first(oy) = max(0, oy*SH - PAD_T)), into the next image's rows 0 .. LAST(0) when another image
// follows (window_read_target). Each image starts with a prologue of the rows its output row 0
// needs that were not read ahead (all LAST(0)+1 of them for the first image of a call).
// A producer running at the network's pace needs a FIFO of about (LAST(0)+1)*IW*CF words in front
// (the first image's prologue; fpga_accel/pe/sliding_window.py: input_slack).
// Cycles/image (II=1) = prologue rows not read ahead * IW*CF + sum_{oy<OH} max(OW*KH*KW*CF,
// rows read during oy * IW*CF), with LAST(oy) = min(IH-1, oy*SH - PAD_T + SPAN_H - 1) the last
// input row output row oy needs (pe/sliding_window.py: image_cycles).
// Steady state (at most SH rows read per output row fit in its emission): OH*OW*KH*KW*CF.
//
// Config: struct with static const members IH, IW, C, KH, KW, SH, SW, DH, DW, PAD_T, PAD_L, PAD_B,
// PAD_R, SIMD, BITS, PAD_VALUE (int) and DEPTHWISE (bool). Each pad must be smaller than the
// kernel span in its direction (DH*(KH-1)+1 or DW*(KW-1)+1).
#ifndef FA_SLIDING_WINDOW_H
#define FA_SLIDING_WINDOW_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

namespace fa {

// Dimensions derived from a sliding-window config.
template <class CFG> struct window_dims {
    static const int SPAN_H = CFG::DH * (CFG::KH - 1) + 1;
    static const int SPAN_W = CFG::DW * (CFG::KW - 1) + 1;
    static const int OH = (CFG::IH + CFG::PAD_T + CFG::PAD_B - SPAN_H) / CFG::SH + 1;
    static const int OW = (CFG::IW + CFG::PAD_L + CFG::PAD_R - SPAN_W) / CFG::SW + 1;
    static const int CF = CFG::C / CFG::SIMD;
    static const int LB_ROWS = SPAN_H + CFG::SH;
    static const int ROW_WORDS = CFG::IW * CF;
    static const int WINDOW_WORDS = CFG::KH * CFG::KW * CF;  // words per output pixel
};

// Last input row output row oy needs (clipped to the image); -1 when it needs none.
template <class CFG> int window_last_row(int oy) {
#pragma HLS INLINE
    int r = oy * CFG::SH - CFG::PAD_T + window_dims<CFG>::SPAN_H - 1;
    return r < CFG::IH - 1 ? r : CFG::IH - 1;
}

// The last row (of the image being emitted; >= IH: of the next one) read by the end of output row
// oy, rrow rows being read before it: what output row oy+1 needs, and up to SH rows ahead while the
// ring has room beside the rows oy uses (first .. first + LB_ROWS - 1) and, when another image
// follows (more), up to the rows that image's output row 0 needs.
template <class CFG> int window_read_target(int oy, int rrow, bool more) {
#pragma HLS INLINE
    typedef window_dims<CFG> D;
    const int need = oy + 1 < D::OH ? window_last_row<CFG>(oy + 1) : CFG::IH - 1;
    const int y0 = oy * CFG::SH - CFG::PAD_T;
    const int cap = (y0 > 0 ? y0 : 0) + D::LB_ROWS - 1;
    const int limit = more ? CFG::IH + window_last_row<CFG>(0) : CFG::IH - 1;
    int ahead = rrow - 1 + CFG::SH;
    if (ahead > cap) ahead = cap;
    if (ahead > limit) ahead = limit;
    return need > ahead ? need : ahead;
}

template <class CFG>
void sliding_window(hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& in,
                    hls::stream<ap_uint<CFG::SIMD * CFG::BITS> >& out, unsigned reps = 1) {
    typedef window_dims<CFG> D;
    typedef ap_uint<CFG::SIMD * CFG::BITS> word_t;
    static_assert(CFG::C % CFG::SIMD == 0, "SIMD must divide C");
    static_assert(CFG::PAD_T < D::SPAN_H && CFG::PAD_B < D::SPAN_H, "vertical pad must be below the span");
    static_assert(CFG::PAD_L < D::SPAN_W && CFG::PAD_R < D::SPAN_W, "horizontal pad must be below the span");
    static_assert(D::OH > 0 && D::OW > 0, "window larger than the padded input");

    word_t buf[D::LB_ROWS][D::ROW_WORDS];
#pragma HLS BIND_STORAGE variable = buf type = ram_s2p
    const word_t pad = splat<CFG::SIMD, CFG::BITS>(CFG::PAD_VALUE);

    // Where the next input word goes. Rows are counted from row 0 of the image being emitted
    // (rrow >= IH: the next image's rows, read ahead); row r of that image is in slot
    // (slot0 + r) % LB_ROWS.
    int rslot = 0, rcol = 0, rrow = 0, slot0 = 0;
    const int first_rows = window_last_row<CFG>(0) + 1;
    for (unsigned rep = 0; rep < reps; rep++) {
        const bool more = rep + 1 < reps;
        // Prologue: the rows output row 0 needs that were not read ahead during the last image.
        const int pre_words = (first_rows - rrow) * D::ROW_WORDS;
        for (int i = 0; i < pre_words; i++) {
#pragma HLS PIPELINE II = 1
            FA_CYCLE();
            buf[rslot][rcol] = in.read();
            if (++rcol == D::ROW_WORDS) { rcol = 0; rrow++; if (++rslot == D::LB_ROWS) rslot = 0; }
        }
        int base = (slot0 + D::LB_ROWS - CFG::PAD_T) % D::LB_ROWS;  // slot of row oy*SH - PAD_T
        for (int oy = 0; oy < D::OH; oy++) {
            const int y0 = oy * CFG::SH - CFG::PAD_T;
            const int last_used = window_last_row<CFG>(D::OH - 1);
            const int target = window_read_target<CFG>(oy, rrow, more);
            const int n_read = (target + 1 - rrow) * D::ROW_WORDS;
            const int n_emit = D::OW * D::WINDOW_WORDS;
            const int n = n_read > n_emit ? n_read : n_emit;
            int ox = 0, ky = 0, kx = 0, cf = 0;
            // Reads and emits are each spread evenly over the row's n iterations (the first of each
            // in iteration 0): a producer delivering the next rows at the pace this row is consumed
            // never waits for a burst of reads, nor a consumer for a burst of emits.
            int racc = n - 1, eacc = n - 1;
            for (int i = 0; i < n; i++) {
#pragma HLS PIPELINE II = 1
#pragma HLS DEPENDENCE variable = buf inter false
                FA_CYCLE();
                racc += n_read;
                eacc += n_emit;
                const bool do_read = racc >= n, do_emit = eacc >= n;
                if (do_read) racc -= n;
                if (do_emit) eacc -= n;
                if (do_read) {  // rows for the next output row, into slots this row does not use
                    word_t w = in.read();
                    if (rrow <= last_used || rrow >= CFG::IH) buf[rslot][rcol] = w;
                    if (++rcol == D::ROW_WORDS) { rcol = 0; rrow++; if (++rslot == D::LB_ROWS) rslot = 0; }
                }
                if (do_emit) {
                    const int iy = y0 + ky * CFG::DH;
                    const int ix = ox * CFG::SW - CFG::PAD_L + kx * CFG::DW;
                    int slot = base + ky * CFG::DH;
                    if (slot >= D::LB_ROWS) slot -= D::LB_ROWS;
                    const bool inside = iy >= 0 && iy < CFG::IH && ix >= 0 && ix < CFG::IW;
                    out.write(inside ? buf[slot][ix * D::CF + cf] : pad);
                    // Advance (ox, ky, kx, cf) in the configured window order.
                    if (!CFG::DEPTHWISE) {
                        if (++cf == D::CF) { cf = 0; if (++kx == CFG::KW) { kx = 0; if (++ky == CFG::KH) { ky = 0; ox++; } } }
                    } else {
                        if (++kx == CFG::KW) { kx = 0; if (++ky == CFG::KH) { ky = 0; if (++cf == D::CF) { cf = 0; ox++; } } }
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

#endif  // FA_SLIDING_WINDOW_H
