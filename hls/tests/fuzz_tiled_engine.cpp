// Fuzzing driver of the tiled engine (tiled_engine.h): runs one program's descriptors, then many random
// corruptions of their layer records, each on heap arenas of exactly the sizes given, so that a build
// with -fsanitize=address,undefined reports any read or write outside the descriptors, the weights
// arena or the activation arena. The engine configuration comes from the FA_TILED_* macros
// (tiled/top.h). tests/test_tiled_hls.py writes the files, builds this with the sanitizers and runs it.
//
//   fuzz_tiled_engine DESCRIPTORS.bin WEIGHTS.bin ACT_BYTES SEED RUNS
//
// Prints "fuzz_tiled_engine: RUNS runs, N ran, statuses c:n ..." and exits 1 when the uncorrupted
// program does not run (status 0).
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "fpga_accel/tiled/top.h"

static std::vector<uint8_t> read_file(const char* path) {
    std::vector<uint8_t> out;
    FILE* f = std::fopen(path, "rb");
    if (!f) return out;
    int c;
    while ((c = std::fgetc(f)) != EOF) out.push_back((uint8_t)c);
    std::fclose(f);
    return out;
}

static unsigned run(const std::vector<uint32_t>& desc, const std::vector<uint8_t>& weights, size_t act_bytes) {
    std::vector<uint32_t> d(desc);  // exact sizes: one element past the end is outside the allocation
    std::vector<uint8_t> w(weights), acts(act_bytes, 0);
    return fa_tiled_top(d.data(), (uint32_t)d.size(), w.data(), (uint32_t)w.size(), acts.data(), (uint32_t)acts.size());
}

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: %s DESCRIPTORS.bin WEIGHTS.bin ACT_BYTES SEED RUNS\n", argv[0]);
        return 2;
    }
    const std::vector<uint8_t> raw = read_file(argv[1]), weights = read_file(argv[2]);
    const size_t act_bytes = std::strtoull(argv[3], nullptr, 10);
    std::mt19937_64 g(std::strtoull(argv[4], nullptr, 10));
    const long runs = std::strtol(argv[5], nullptr, 10);
    std::vector<uint32_t> desc(raw.size() / 4);
    for (size_t i = 0; i < desc.size(); i++)
        desc[i] = raw[4 * i] | raw[4 * i + 1] << 8 | raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
    if (desc.size() <= (size_t)fa::tiled::RECORD_WORDS) {
        std::fprintf(stderr, "fuzz_tiled_engine: no layer records\n");
        return 2;
    }
    const unsigned clean = run(desc, weights, act_bytes);
    if (clean != 0) {
        std::printf("fuzz_tiled_engine: the uncorrupted program gives status %u\n", clean);
        return 1;
    }
    long counts[256] = {0};
    for (long r = 0; r < runs; r++) {
        std::vector<uint32_t> d(desc);
        const int n = 1 + (int)(g() % 3);
        for (int j = 0; j < n; j++) {
            const size_t i = fa::tiled::RECORD_WORDS + g() % (d.size() - fa::tiled::RECORD_WORDS);
            switch (g() % 3) {
                case 0: d[i] = (uint32_t)g(); break;       // anything
                case 1: d[i] = (uint32_t)(g() % 64); break;  // small, plausible
                default: d[i] += (uint32_t)(g() % 7) - 3;  // off by a little
            }
        }
        counts[run(d, weights, act_bytes) & 0xFF]++;
    }
    std::printf("fuzz_tiled_engine: %ld runs, %ld ran, statuses", runs, counts[0]);
    for (int c = 0; c < 256; c++)
        if (counts[c]) std::printf(" %d:%ld", c, counts[c]);
    std::printf("\n");
    return 0;
}
