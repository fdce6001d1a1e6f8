// Testbench: one pixel's channels through a view (tiled/pixels.h) against element-by-element access
// written here: read_pixel gives every channel's value and write_pixel changes exactly the channels'
// bytes, for channel strides 1..40, 8- and 16-bit types and 1..24 channels (span reads and span
// rewrites included, the rule deciding), and the rule's choices on a few worked cases.
#include <cstring>

#include "fpga_accel/tiled/pixels.h"
#include "tb_common.h"

using namespace fa::tiled;

static const int ARENA = 1 << 16;

static int64_t element(const uint8_t* mem, uint64_t at, int dtype) {  // little-endian, sign-extended
    const int n = dtype == D_INT16 || dtype == D_UINT16 ? 2 : 1;
    uint64_t u = mem[at] | (n == 2 ? (uint64_t)mem[at + 1] << 8 : 0);
    if (dtype == D_INT8) return (int8_t)u;
    if (dtype == D_INT16) return (int16_t)u;
    return (int64_t)u;
}

static void run(Checker& ck) {
    std::vector<uint8_t> arena(ARENA), before(ARENA), want(ARENA);
    const int dtypes[] = {D_INT8, D_UINT8, D_INT16};
    const int strides[] = {1, 2, 3, 5, 8, 32, 40};
    for (int dtype : dtypes)
        for (int cs : strides)
            for (int cn = 1; cn <= 24; cn++) {
                const int ib = dtype == D_INT16 ? 2 : 1;
                View v;
                v.h = 3;
                v.w = 4;
                v.cs = cs;
                v.c = cn + 2;
                v.ps = (v.c - 1) * cs + 1 + (int)rand_int(0, 3);
                v.dtype = dtype;
                v.offset = (uint64_t)rand_int(0, 200) * ib;
                for (auto& b : arena) b = (uint8_t)rand_int(0, 255);
                const int r = (int)rand_int(0, v.h - 1), q = (int)rand_int(0, v.w - 1), c0 = (int)rand_int(0, 2);
                const std::string name = "dtype " + std::to_string(dtype) + " cs " + std::to_string(cs) + " cn " +
                                         std::to_string(cn);
                int64_t got[64];
                read_pixel<64>(arena.data(), v, r, q, c0, cn, got);  // a 512-bit bus word an iteration
                vec g(got, got + cn), w;
                for (int m = 0; m < cn; m++) {
                    const uint64_t at = v.offset + (((uint64_t)r * v.w + q) * v.ps + (uint64_t)(c0 + m) * cs) * ib;
                    w.push_back(element(arena.data(), at, dtype));
                }
                ck.same("read " + name, g, w);
                // write: new values in the channels, every other byte as it was
                int64_t vals[64];
                const int64_t lo = dtype == D_INT8 ? -128 : dtype == D_UINT8 ? 0 : -32768;
                const int64_t hi = dtype == D_INT8 ? 127 : dtype == D_UINT8 ? 255 : 32767;
                for (int m = 0; m < cn; m++) vals[m] = rand_int(lo, hi);
                before = arena;
                want = arena;
                for (int m = 0; m < cn; m++) {
                    const uint64_t at = v.offset + (((uint64_t)r * v.w + q) * v.ps + (uint64_t)(c0 + m) * cs) * ib;
                    for (int i = 0; i < ib; i++) want[at + i] = (uint8_t)((uint64_t)vals[m] >> (8 * i));
                }
                write_pixel(arena.data(), v, r, q, c0, cn, vals);
                ck.ok("write " + name, arena == want, "other bytes changed or values not written");
            }
    // the rule: beats of the span for the worst alignment on the 64-byte bus against cn element bursts
    View v;
    v.dtype = D_UINT8;
    v.cs = 2;
    ck.ok("cs 2, 24 channels: span read (47 bytes, 2 beats < 24)", reads_span(v, 24));
    ck.ok("cs 2, 24 channels: span rewrite (2 x 2 beats < 24)", writes_span(v, 24));
    ck.ok("cs 2, 4 channels: element writes (2 x 2 beats = 4)", !writes_span(v, 4) && reads_span(v, 4));
    v.cs = 32;
    ck.ok("cs 32, 24 channels: span read (737 bytes, 13 beats < 24)", reads_span(v, 24));
    ck.ok("cs 32, 24 channels: element writes (2 x 13 beats >= 24)", !writes_span(v, 24));
    v.cs = 1;
    ck.ok("cs 1: a run, no span", !reads_span(v, 24) && !writes_span(v, 24));
    v.cs = 300;
    ck.ok("cs 300, 24 channels: beyond SPAN_BYTES, element writes", !writes_span(v, 24) && !reads_span(v, 24));
}

int main() {
    Checker ck;
    return ck.both_paths("tb_tiled_pixels", run);
}
