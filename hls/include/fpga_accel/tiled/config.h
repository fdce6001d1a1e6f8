// fpga-accel HLS library, tiled engine: the engine's compile-time configuration and on-chip buffers.
//
// tiled_config<TM, TN, INPUT_BUFFER, WEIGHT_BUFFER, OUTPUT_BUFFER, ACC_BITS, LUT_ENTRIES, PACK, SPLIT, AXI_BYTES,
// OUT_LANES, UNITS> is the
// program's `engine` section (docs/tiled.md): the Tm x Tn array, the elements of one half of each
// on-chip buffer, the accumulator width (at most the contract's MAX_ACC_BITS), the entries of the
// largest lookup table, and PACK: 1, a multiplier per product, or 2, lanes m and m+1 sharing one DSP
// multiply (pack.h; conv and gemm layers then take int8 weights and 8-bit activations only); and
// SPLIT: 0, or 1 when the engine has a second weights master and a second activations master
// (top.h, FA_TILED_SPLIT) over which a dense convolution spreads its loads (memory.h, conv.h); and
// AXI_BYTES, W: the arena ports' bus word in bytes (top.h FA_TILED_AXI_BITS / 8), the bytes the data
// movers carry an iteration; and OUT_LANES, P: the output path's lanes (a power of two up to W, W
// when 0; int16 outputs use at most W / 2 of them, output_path.h), which every unit's output path
// has (a lane: requantisation, post stages, range check, its bytes of the word); and UNITS, the units
// beside the conv array the engine has (checks.h Unit: window max and average pools, global pools,
// the elementwise and mul units; all unless fewer are named), so an engine built for a program has
// none of the output paths it does not use. A program built for other sizes, or using a unit the
// engine lacks, is refused (checks.h, S_ENGINE).
//
// Element types: in synthesis activations are 17-bit (int16 and uint16 both fit), weights 16-bit and
// accumulators ACC_BITS wide. In C simulation the same values live in native integers, which hold
// every value the checked program can produce, and the accumulator range is checked explicitly
// against the layer's acc_bits (S_ACC), as the reference executor does.
#ifndef FA_TILED_CONFIG_H
#define FA_TILED_CONFIG_H

#include <ap_int.h>
#include <stdint.h>

#include "fpga_accel/requant.h"
#include "fpga_accel/tiled/checks.h"
#include "fpga_accel/tiled/descriptor.h"

// Unrolled lanes: synthesis iterates all N lanes of the array (idle beyond the tile's n); C
// simulation only the n in use, which computes the same sums faster. Defining FA_TILED_AS_SYNTHESIS
// simulates what synthesis sees instead (all lanes, ap_int element and accumulator types):
// tb_tiled_engine.cpp does, so both forms are tested.
#if defined(__SYNTHESIS__) || defined(FA_TILED_AS_SYNTHESIS)
#define FA_TILED_LANES(n, N) (N)
#else
#define FA_TILED_LANES(n, N) (n)
#endif

namespace fa {
namespace tiled {

template <int TM_, int TN_, int INPUT_BUFFER_, int WEIGHT_BUFFER_, int OUTPUT_BUFFER_, int ACC_BITS_ = MAX_ACC_BITS,
          int LUT_ENTRIES_ = 4096, int PACK_ = 1, int SPLIT_ = 0, int AXI_BYTES_ = 64, int OUT_LANES_ = 0,
          int UNITS_ = U_ALL>
struct tiled_config {
    static const int TM = TM_, TN = TN_, PACK = PACK_, SPLIT = SPLIT_, AXI_BYTES = AXI_BYTES_;
    static const int OUT_LANES = OUT_LANES_ ? OUT_LANES_ : AXI_BYTES_;
    static const int UNITS = UNITS_;
    static const int INPUT_BUFFER = INPUT_BUFFER_, WEIGHT_BUFFER = WEIGHT_BUFFER_, OUTPUT_BUFFER = OUTPUT_BUFFER_;
    static const int ACC_BITS = ACC_BITS_, LUT_ENTRIES = LUT_ENTRIES_;
    static_assert(TM >= 1 && TN >= 1, "the array needs at least one lane each way");
    static_assert(ACC_BITS >= 2 && ACC_BITS <= MAX_ACC_BITS, "accumulator wider than the contract allows");
    static_assert(PACK == 1 || PACK == 2, "PACK is 1 (a multiply per product) or 2 (two lanes per multiply)");
    static_assert(SPLIT == 0 || SPLIT == 1, "SPLIT is 0 (one master per arena) or 1 (two)");
    static_assert(AXI_BYTES >= 8 && AXI_BYTES <= 128 && (AXI_BYTES & (AXI_BYTES - 1)) == 0,
                  "the bus word: a power of two of bytes from 64 bits (every element fits a word) to 1024");
    static_assert(OUT_LANES >= 1 && OUT_LANES <= AXI_BYTES && (OUT_LANES & (OUT_LANES - 1)) == 0,
                  "the output path's lanes: a power of two, at most a bus word's bytes");
    static_assert(UNITS >= 0 && UNITS <= U_ALL, "UNITS: a mask of checks.h Unit");
    static_assert(LUT_ENTRIES >= 4 && (LUT_ENTRIES & (LUT_ENTRIES - 1)) == 0, "table entries: a power of two");
};

#if defined(__SYNTHESIS__) || defined(FA_TILED_AS_SYNTHESIS)
typedef ap_int<17> act_t;
typedef ap_int<16> wgt_t;
template <int B> struct acc_of {
    typedef ap_int<B> type;
};
#else
typedef int32_t act_t;
typedef int32_t wgt_t;
template <int B> struct acc_of {
    typedef int64_t type;
};
#endif

// The on-chip buffers, each double one twice (ping-pong halves): input tile with halo and weight
// block (one half loaded while the array works on the other), accumulator tile with its channels'
// M and shift (one half filled by the array while the output path drains the other); per-position
// constants of an average pool, per-channel constants of elementwise layers, tap offsets, and the
// layer's lookup tables (post stages, then the lut kind's own table in the last slot).
template <class C>
struct Buffers {
    typedef typename acc_of<C::ACC_BITS>::type acc_t;
    act_t in[2][C::INPUT_BUFFER];
    wgt_t w[2][C::WEIGHT_BUFFER];
    acc_t acc[2][C::OUTPUT_BUFFER];
    int32_t mult[2][C::TM];  // per channel of a Tm tile
    int8_t shift[2][C::TM];
    int32_t pos_mult[C::OUTPUT_BUFFER];
    int8_t pos_shift[C::OUTPUT_BUFFER];
    int32_t pre[C::TM];
    int64_t tile_bias[2][C::TM];  // a Tm tile's bias (dense: with M and shift, read with its first step, its half)
    int32_t tile_mult[2][C::TM];
    int8_t tile_shift[2][C::TM];
    int32_t taps[MAX_KERNEL * MAX_KERNEL];  // tap offsets of the current spatial tile (memory.h)
    int32_t lut[MAX_POST + 1][C::LUT_ENTRIES];
};

// Whether a signed value fits `bits` bits (a partial sum against acc_bits).
inline bool fits(int64_t v, int bits) {
    const int64_t half = (int64_t)1 << (bits - 1);
    return v >= -half && v < half;
}

// The contract's requantisation (requant.h, the one implementation) of a value already known to fit
// ACC_BITS; S_CONST when M or shift lies outside the contract.
template <int ACC_BITS>
int requant(int64_t acc, int64_t m, int shift, int zp, int lo, int hi, int& status) {
#pragma HLS INLINE
    if (!mult_ok(m) || !shift_ok(shift)) {
        status = S_CONST;
        return 0;
    }
    if (!fits(acc, ACC_BITS)) {
        status = S_ACC;
        return 0;
    }
#if !defined(__SYNTHESIS__) && !defined(FA_TILED_AS_SYNTHESIS)
    // C simulation: requant.h's int64 form (the one its fast path uses), without an ap_int round trip
    if (sim::fast_paths()) return requantize_i64<ACC_BITS>(acc, (uint64_t)m, (unsigned)shift, zp, lo, hi);
#endif
    return requantize<ACC_BITS>(ap_int<ACC_BITS>(acc), mult_t(m), shift_t(shift), zp, lo, hi);
}

}  // namespace tiled
}  // namespace fa

#endif  // FA_TILED_CONFIG_H
