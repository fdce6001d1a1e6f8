// Testbench for fpga_accel/requant.h.
//   tb_requant                    : random and edge cases for several accumulator widths against the
//                                   contract written out in 128-bit arithmetic.
//   tb_requant CASES.bin OUT.bin  : reads records of six little-endian int64 (acc, M, shift, zp, lo, hi),
//                                   writes one int64 result per record (the Python mirror compares);
//                                   each record goes through the narrowest accumulator width that holds it.
#include "fpga_accel/requant.h"
#include "tb_common.h"

#include <fstream>

template <int ACC_BITS>
int64_t hw(int64_t acc, int64_t m, int64_t shift, int64_t zp, int64_t lo, int64_t hi) {
    return fa::requantize<ACC_BITS>(ap_int<ACC_BITS>(acc), m, shift, zp, lo, hi);
}

template <int ACC_BITS>
void random_cases(Checker& chk, int n) {
    const int64_t amax = (int64_t(1) << (ACC_BITS - 1)) - 1, amin = -amax - 1;
    vec got, want;
    for (int i = 0; i < n; i++) {
        // Mix full-range accumulators with small ones, and shifts that land results in and out of range.
        const int64_t acc = (i % 3 == 0) ? rand_int(-1000, 1000) : rand_int(amin, amax);
        const int64_t m = (i % 7 == 0) ? rand_int(0, 3) : rand_int(0, (1 << fa::MULT_BITS) - 1);
        const int64_t shift = (i % 2) ? rand_int(1, fa::MAX_SHIFT) : rand_int(1, ACC_BITS + fa::MULT_BITS - 8);
        const int64_t zp = rand_int(-32768, 65535);
        int64_t lo = rand_int(-32768, 65535), hi = rand_int(-32768, 65535);
        if (lo > hi) std::swap(lo, hi);
        got.push_back(hw<ACC_BITS>(acc, m, shift, zp, lo, hi));
        want.push_back(ref_requant(acc, m, (int)shift, zp, lo, hi));
    }
    chk.same("random acc" + std::to_string(ACC_BITS), got, want);
}

template <int ACC_BITS>
void edge_cases(Checker& chk) {
    const int64_t amax = (int64_t(1) << (ACC_BITS - 1)) - 1, amin = -amax - 1;
    const int64_t mmax = (1 << fa::MULT_BITS) - 1;
    const int64_t accs[] = {amin, amin + 1, -3, -2, -1, 0, 1, 2, 3, amax - 1, amax};
    const int64_t ms[] = {0, 1, 2, 3, 1 << 16, mmax};
    const int64_t shifts[] = {1, 2, 16, 17, 31, 32, 45, 61, fa::MAX_SHIFT};
    vec got, want;
    for (int64_t acc : accs)
        for (int64_t m : ms)
            for (int64_t s : shifts) {
                got.push_back(hw<ACC_BITS>(acc, m, s, 0, INT32_MIN, INT32_MAX));
                want.push_back(ref_requant(acc, m, (int)s, 0, INT32_MIN, INT32_MAX));
                got.push_back(hw<ACC_BITS>(acc, m, s, -7, -128, 127));
                want.push_back(ref_requant(acc, m, (int)s, -7, -128, 127));
            }
    chk.same("edges acc" + std::to_string(ACC_BITS), got, want);
}

int file_mode(const char* cases, const char* results) {
    std::ifstream in(cases, std::ios::binary);
    std::ofstream out(results, std::ios::binary);
    if (!in || !out) {
        std::printf("tb_requant: cannot open %s or %s\n", cases, results);
        return 2;
    }
    int64_t r[6];
    long n = 0;
    while (in.read(reinterpret_cast<char*>(r), sizeof r)) {
        // The narrowest of four instantiations that holds acc, so every datapath width is compared.
        const int need = signed_bits(r[0] < 0 ? -(__int128)r[0] - 1 : r[0]);
        const int64_t y = need <= 16   ? hw<16>(r[0], r[1], r[2], r[3], r[4], r[5])
                          : need <= 24 ? hw<24>(r[0], r[1], r[2], r[3], r[4], r[5])
                          : need <= 32 ? hw<32>(r[0], r[1], r[2], r[3], r[4], r[5])
                                       : hw<fa::MAX_ACC_BITS>(r[0], r[1], r[2], r[3], r[4], r[5]);
        out.write(reinterpret_cast<const char*>(&y), sizeof y);
        n++;
    }
    std::printf("tb_requant: %ld cases written\n", n);
    return 0;
}

static void run_all(Checker& chk) {
    // Hand-checked values: ties round up (towards +inf), the shift floors negatives.
    chk.ok("5/2 -> 3", hw<16>(5, 1, 1, 0, -100, 100) == 3);
    chk.ok("-5/2 -> -2", hw<16>(-5, 1, 1, 0, -100, 100) == -2);
    chk.ok("-7/4 -> -2", hw<16>(-7, 1, 2, 0, -100, 100) == -2);
    chk.ok("1000*3/8 + 5 clamps to 100", hw<16>(1000, 3, 3, 5, -100, 100) == 100);
    chk.ok("zero point added before the clamp", hw<16>(-1000, 1, 4, 10, -50, 50) == -50);
    edge_cases<8>(chk);
    edge_cases<24>(chk);
    edge_cases<32>(chk);
    edge_cases<fa::MAX_ACC_BITS>(chk);
    random_cases<12>(chk, 20000);
    random_cases<20>(chk, 20000);
    random_cases<32>(chk, 20000);
    random_cases<fa::MAX_ACC_BITS>(chk, 20000);
}

int main(int argc, char** argv) {
    if (argc == 3) return file_mode(argv[1], argv[2]);
    Checker chk;
    return chk.both_paths("tb_requant", run_all);
}
