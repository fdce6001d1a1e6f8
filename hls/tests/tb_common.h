// fpga-accel HLS testbenches: shared helpers (packing, random data, the reference requantise,
// pass/fail bookkeeping). The references in the testbenches are plain loops over int64 on the
// unfolded problem, written independently of the headers under test.
#ifndef FA_TB_COMMON_H
#define FA_TB_COMMON_H

#include <ap_int.h>
#include <hls_stream.h>

#include "fpga_accel/types.h"

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

typedef std::vector<int64_t> vec;

inline std::mt19937_64& rng() {
    static std::mt19937_64 g(12345);
    return g;
}

// Which C-simulation code a failure came from (see fa::sim::fast_paths in types.h).
inline const char* sim_path() { return fa::sim::fast_paths() ? "" : " [synthesis loops]"; }

struct Checker {
    int passed = 0, failed = 0;
    // Compare two equally long vectors; report the first mismatch under the case name.
    bool same(const std::string& name, const vec& got, const vec& want) {
        if (got.size() != want.size()) {
            std::printf("FAIL %s%s: %zu values, expected %zu\n", name.c_str(), sim_path(), got.size(), want.size());
            failed++;
            return false;
        }
        for (size_t i = 0; i < got.size(); i++) {
            if (got[i] != want[i]) {
                std::printf("FAIL %s%s: value %zu is %lld, expected %lld\n", name.c_str(), sim_path(), i, (long long)got[i],
                            (long long)want[i]);
                failed++;
                return false;
            }
        }
        passed++;
        return true;
    }
    bool ok(const std::string& name, bool cond, const std::string& why = "") {
        if (cond) { passed++; return true; }
        std::printf("FAIL %s%s %s\n", name.c_str(), sim_path(), why.c_str());
        failed++;
        return false;
    }
    // A PE's loop iterations (fa::sim::cycles() since `start`) against its documented formula.
    bool cycles(const std::string& name, unsigned long long start, unsigned long long want) {
        const unsigned long long got = fa::sim::cycles() - start;
        if (got == want) { passed++; return true; }
        std::printf("FAIL %s%s: %llu cycles, formula says %llu\n", name.c_str(), sim_path(), got, want);
        failed++;
        return false;
    }
    // Run every case with the C-simulation fast paths, then with the loops synthesis sees, on the
    // same random data (the generator restarts for each pass).
    template <typename F> int both_paths(const char* tb, F run) {
        for (int fast = 1; fast >= 0; fast--) {
            fa::sim::fast_paths() = fast != 0;
            rng().seed(12345);
            run(*this);
        }
        fa::sim::fast_paths() = true;
        return summary(tb);
    }
    int summary(const char* tb) {
        std::printf("%s: %d passed, %d failed\n", tb, passed, failed);
        return failed == 0 && passed > 0 ? 0 : 1;
    }
};

inline int64_t rand_int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng());
}
inline int64_t qmin(int bits, bool sgn) { return sgn ? -(int64_t(1) << (bits - 1)) : 0; }
inline int64_t qmax(int bits, bool sgn) { return sgn ? (int64_t(1) << (bits - 1)) - 1 : (int64_t(1) << bits) - 1; }
inline vec rand_vec(size_t n, int64_t lo, int64_t hi) {
    vec v(n);
    for (auto& x : v) x = rand_int(lo, hi);
    return v;
}

// Pack values (lanes per word, lane 0 in the low bits) and push them into a stream.
template <int LANES, int BITS>
void push_words(hls::stream<ap_uint<LANES * BITS> >& s, const vec& v) {
    for (size_t i = 0; i < v.size(); i += LANES) {
        ap_uint<LANES * BITS> w = 0;
        for (int l = 0; l < LANES; l++) {
            ap_uint<LANES * BITS> e = (uint64_t)v[i + l] & ((uint64_t(1) << BITS) - 1);
            w |= e << (l * BITS);
        }
        s.write(w);
    }
}

// Pop every word of a stream and unpack its lanes (sign-extended when SGN).
template <int LANES, int BITS, bool SGN>
vec pop_words(hls::stream<ap_uint<LANES * BITS> >& s) {
    vec v;
    while (!s.empty()) {
        ap_uint<LANES * BITS> w = s.read();
        for (int l = 0; l < LANES; l++) {
            uint64_t raw = (uint64_t)(ap_uint<BITS>)(w >> (l * BITS));
            int64_t x = (int64_t)raw;
            if (SGN && (raw >> (BITS - 1)) & 1) x -= int64_t(1) << BITS;
            v.push_back(x);
        }
    }
    return v;
}

// The contract's requantise, written out in 128-bit arithmetic as the reference.
inline int64_t ref_requant(int64_t acc, int64_t m, int shift, int64_t zp, int64_t lo, int64_t hi) {
    __int128 p = (__int128)acc * m + ((__int128)1 << (shift - 1));
    p >>= shift;  // arithmetic shift of a signed value: floor
    p += zp;
    if (p < lo) p = lo;
    if (p > hi) p = hi;
    return (int64_t)p;
}

// Bits needed for a signed accumulator holding any value in [-bound, bound].
inline int signed_bits(__int128 bound) {
    int b = 1;
    while (((__int128)1 << (b - 1)) <= bound) b++;
    return b;
}

#endif  // FA_TB_COMMON_H
