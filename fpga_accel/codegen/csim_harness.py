"""``csim/``: the C ABI the csim backend loads, a standalone testbench and its build description.

``fa_csim_run`` takes the host's buffers (NHWC batches in the storage dtype, manifest order),
copies them into whole memory words, runs ``fa_kernel`` and copies the results back.
``fa_csim_run_axis`` does the same through ``fa_axis`` (beats built from the elements, TLAST
checked on the last output beat of the run and on no other). Stage counts come from the FA_STAGE_END records of fa_top.cpp.
"""
from __future__ import annotations

import json

from ..segments.names import AXIS, KERNEL
from .network import Network
from .top import BANNER

CXXFLAGS = ["-O2", "-w"]  # the builder adds -std=c++17 -fPIC -shared


def _io(net: Network):
    ins = [(f"in{i}", p, t) for i, (t, p, _) in enumerate(net.inputs)]
    outs = [(f"out{i}", p, t) for i, (t, p, _) in enumerate(net.outputs)]
    return ins, outs


def csim_source(net: Network, model: str, tops: tuple[str, str] = (KERNEL, AXIS), load: bool = False) -> str:
    """``load``: the design has URAM weights; ``fa_csim_load`` fills them through either top's load
    call (the blob read at run time, never compiled in), and the image runs pass load = 0."""
    ins, outs = _io(net)
    tail = ["n_images"] + (["0", "0"] if load else [])
    L = [BANNER.format(model=model), '#include "fa_top.h"', "", "#include <cstdint>", "#include <cstring>",
         "#include <vector>", "", "namespace {", "",
         "typedef ap_uint<FA_MEM_BITS> mem_word;",
         "static const unsigned MEM_BYTES = FA_MEM_BITS / 8;", "",
         "static const unsigned MEM_CHUNKS = FA_MEM_BITS / 64;", "",
         "// Host bytes -> whole memory words (little-endian, zero tail), 64 bits at a time.",
         "std::vector<mem_word> to_mem(const void* src, size_t nbytes) {",
         "    std::vector<mem_word> mem((nbytes + MEM_BYTES - 1) / MEM_BYTES + 1, 0);",
         "    const unsigned char* b = static_cast<const unsigned char*>(src);",
         "    for (size_t w = 0; w * MEM_BYTES < nbytes; w++) {",
         "        uint64_t c[MEM_CHUNKS] = {0};",
         "        for (size_t i = w * MEM_BYTES; i < nbytes && i < (w + 1) * MEM_BYTES; i++)",
         "            c[(i % MEM_BYTES) / 8] |= (uint64_t)b[i] << (8 * (i % 8));",
         "        mem[w] = fa::sim::from_chunks<FA_MEM_BITS>(c);",
         "    }", "    return mem;", "}", "",
         "void from_mem(const std::vector<mem_word>& mem, void* dst, size_t nbytes) {",
         "    unsigned char* b = static_cast<unsigned char*>(dst);",
         "    for (size_t w = 0; w * MEM_BYTES < nbytes; w++) {",
         "        uint64_t c[MEM_CHUNKS];",
         "        fa::sim::to_chunks<FA_MEM_BITS>(mem[w], c);",
         "        for (size_t i = w * MEM_BYTES; i < nbytes && i < (w + 1) * MEM_BYTES; i++)",
         "            b[i] = (unsigned char)(c[(i % MEM_BYTES) / 8] >> (8 * (i % 8)));",
         "    }", "}", "",
         "// Element j of a host array of storage bytes (1 or 2), sign- or zero-extended.",
         "long long element(const void* src, size_t j, int bytes, bool sgn) {",
         "    if (bytes == 1) return sgn ? (long long)((const int8_t*)src)[j] : (long long)((const uint8_t*)src)[j];",
         "    return sgn ? (long long)((const int16_t*)src)[j] : (long long)((const uint16_t*)src)[j];", "}",
         "void set_element(void* dst, size_t j, int bytes, long long v) {",
         "    if (bytes == 1) ((uint8_t*)dst)[j] = (uint8_t)v; else ((uint16_t*)dst)[j] = (uint16_t)v;", "}", "",
         "void reset_cycles() {",
         "    for (int i = 0; i < FA_N_STAGES; i++) fa_stage_cycles[i] = 0;", "}", "", "}  // namespace", ""]
    L += ['extern "C" int fa_csim_run(const void* const* inputs, void* const* outputs, unsigned n_images) {',
          "    reset_cycles();", "    if (n_images == 0) return 0;"]
    for name, p, t in ins:
        nb = 1 if p.bits <= 8 else 2
        L.append(f"    std::vector<mem_word> {name} = to_mem(inputs[{name[2:]}], (size_t)n_images * FA_{name.upper()}_ELEMS * {nb});")
    for name, p, t in outs:
        nb = 1 if p.bits <= 8 else 2
        L.append(f"    std::vector<mem_word> {name}((size_t)n_images * FA_{name.upper()}_ELEMS * {nb} / MEM_BYTES + 2, 0);")
    L.append(f"    {tops[0]}(" + ", ".join([f"{n}.data()" for n, _, _ in ins + outs] + tail) + ");")
    for k, (name, p, t) in enumerate(outs):
        nb = 1 if p.bits <= 8 else 2
        L.append(f"    from_mem({name}, outputs[{k}], (size_t)n_images * FA_{name.upper()}_ELEMS * {nb});")
    L += ["    return 0;", "}", ""]
    # AXI-Stream path
    L += ['extern "C" int fa_csim_run_axis(const void* const* inputs, void* const* outputs, unsigned n_images) {',
          "    reset_cycles();", "    if (n_images == 0) return 0;"]
    for name, p, t in ins:
        nb = 1 if p.bits <= 8 else 2
        N = name.upper()
        L += [f"    hls::stream<fa_{name}_beat> {name}(\"{name}\");",
              f"    for (size_t w = 0; w < (size_t)n_images * FA_{N}_WORDS; w++) {{",
              f"        fa_{name}_beat beat;", "        beat.data = 0;",
              f"        for (int l = 0; l < {p.lanes}; l++)",
              (f"            beat.data.range(l * {p.bits} + {p.bits - 1}, l * {p.bits}) = "
               f"ap_int<{p.bits}>(element(inputs[{name[2:]}], w * {p.lanes} + l, {nb}, {str(p.signed).lower()}));"),
              "        beat.keep = -1;", "        beat.strb = -1;",
              f"        beat.last = w + 1 == (size_t)n_images * FA_{N}_WORDS;  // as the DMA sends it: the transfer's end",
              f"        {name}.write(beat);", "    }"]
    for name, p, t in outs:
        L.append(f"    hls::stream<fa_{name}_beat> {name}(\"{name}\");")
    L.append(f"    {tops[1]}(" + ", ".join([n for n, _, _ in ins + outs] + tail) + ");")
    L.append("    int status = 0;")
    for k, (name, p, t) in enumerate(outs):
        nb = 1 if p.bits <= 8 else 2
        N = name.upper()
        sign = "ap_int" if p.signed else "ap_uint"
        L += [f"    for (size_t w = 0; w < (size_t)n_images * FA_{N}_WORDS; w++) {{",
              f"        if ({name}.empty()) return 2;  // fewer beats than images x words",
              f"        fa_{name}_beat beat = {name}.read();",
              f"        if (bool(beat.last) != (w + 1 == (size_t)n_images * FA_{N}_WORDS)) status = 3;  // TLAST ends the run",
              f"        for (int l = 0; l < {p.lanes}; l++)",
              (f"            set_element(outputs[{k}], w * {p.lanes} + l, {nb}, "
               f"({sign}<{p.bits}>(beat.data.range(l * {p.bits} + {p.bits - 1}, l * {p.bits}))).to_int64());"),
              "    }", f"    if (!{name}.empty()) return 4;  // more beats than expected"]
    L += ["    return status;", "}", ""]
    if load:
        L += _load_entry(ins, outs, tops)
    L += ["// 1 (default): PEs with a C-simulation fast path use it; 0: every PE runs the loops synthesis sees.",
          "// Both give the same outputs and cycle counts (hls/tests prove it per PE).",
          'extern "C" void fa_csim_set_fast_paths(int on) { fa::sim::fast_paths() = on != 0; }',
          'extern "C" int fa_csim_stage_count(void) { return FA_N_STAGES; }',
          'extern "C" const char* fa_csim_stage_name(int i) { return i >= 0 && i < FA_N_STAGES ? fa_stage_names[i] : 0; }',
          'extern "C" unsigned long long fa_csim_stage_cycles(int i) {',
          "    return i >= 0 && i < FA_N_STAGES ? fa_stage_cycles[i] : 0;", "}", ""]
    return "\n".join(L)


def _load_entry(ins, outs, tops) -> list[str]:
    """``fa_csim_load(blob, nbytes, axis)``: the URAM weights from the bytes of weights/uram.bin, through
    fa_kernel (axis = 0) or fa_axis (axis = 1) with load = 1, as a host does once after configuration."""
    L = ["// The URAM weight memories: filled from weights/uram.bin's bytes by a load call (load = 1).",
         'extern "C" int fa_csim_load(const void* blob, size_t nbytes, int axis) {',
         "    if (nbytes != (size_t)FA_WMEM_WORDS * MEM_BYTES) return 5;  // not the blob this design reads",
         "    std::vector<mem_word> wmem = to_mem(blob, nbytes);"]
    L.append("    if (axis) {")
    for name, _, _ in ins + outs:
        L.append(f"        hls::stream<fa_{name}_beat> {name}(\"{name}\");")
    L.append(f"        {tops[1]}(" + ", ".join([n for n, _, _ in ins + outs] + ["0", "wmem.data()", "1"]) + ");")
    L += ["    } else {", "        std::vector<mem_word> unused(1, 0);"]
    L.append(f"        {tops[0]}(" + ", ".join(["unused.data()"] * len(ins + outs) + ["0", "wmem.data()", "1"]) + ");")
    L += ["    }", "    return 0;", "}", "",
          'extern "C" unsigned long long fa_csim_load_bytes(void) { return (unsigned long long)FA_WMEM_WORDS * MEM_BYTES; }',
          ""]
    return L


def tb_source(net: Network, model: str, load: bool = False) -> str:
    ins, outs = _io(net)
    n_in, n_out = len(ins), len(outs)
    sizes_in = ", ".join(f"FA_{n.upper()}_ELEMS * {1 if p.bits <= 8 else 2}" for n, p, _ in ins)
    sizes_out = ", ".join(f"FA_{n.upper()}_ELEMS * {1 if p.bits <= 8 else 2}" for n, p, _ in outs)
    text = _tb_text(model, n_in, n_out, sizes_in, sizes_out)
    if not load:
        return text
    # URAM weights: --weights weights/uram.bin (required) is loaded before the images run
    text = text.replace("// Standalone C simulation: tb_main [--axis] N_IMAGES",
                        "// Standalone C simulation: tb_main --weights URAM.bin [--axis] N_IMAGES")
    text = text.replace('extern "C" int fa_csim_stage_count(void);',
                        'extern "C" int fa_csim_stage_count(void);\n'
                        'extern "C" int fa_csim_load(const void* blob, size_t nbytes, int axis);')
    text = text.replace("    int a = 1;\n",
                        "    int a = 1;\n    std::vector<char> blob;\n"
                        "    if (argc < 3 || std::strcmp(argv[1], \"--weights\") != 0) {\n"
                        "        std::fprintf(stderr, \"usage: %s --weights URAM.bin [--axis] N_IMAGES IN... OUT...\\n\", argv[0]);\n"
                        "        return 2;\n    }\n"
                        "    if (!read_file(argv[2], blob, (size_t)FA_WMEM_WORDS * (FA_MEM_BITS / 8))) return 1;\n"
                        "    a = 3;\n")
    text = text.replace("bool axis = argc > 1 && std::strcmp(argv[1], \"--axis\") == 0;",
                        "bool axis = argc > a && std::strcmp(argv[a], \"--axis\") == 0;")
    text = text.replace("    const int rc = axis",
                        "    if (fa_csim_load(blob.data(), blob.size(), axis ? 1 : 0) != 0) {\n"
                        "        std::fprintf(stderr, \"tb_main: the weights file is not this design's\\n\");\n"
                        "        return 1;\n    }\n    const int rc = axis")
    return text


def _tb_text(model, n_in, n_out, sizes_in, sizes_out) -> str:
    return f"""{BANNER.format(model=model)}// Standalone C simulation: tb_main [--axis] N_IMAGES IN0 ... OUT0 ...
// Inputs are raw .bin files (the batch as the host stores it) or .npy files (the header is skipped;
// the data must already be the storage dtype, C order). Outputs are written as raw .bin files.
// --axis runs fa_axis (AXI-Stream) instead of fa_kernel (m_axi). Prints per-stage FA_CYCLE counts.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

extern "C" int fa_csim_run(const void* const* inputs, void* const* outputs, unsigned n_images);
extern "C" int fa_csim_run_axis(const void* const* inputs, void* const* outputs, unsigned n_images);
extern "C" int fa_csim_stage_count(void);
extern "C" const char* fa_csim_stage_name(int i);
extern "C" unsigned long long fa_csim_stage_cycles(int i);

#include "fa_top.h"

static bool read_file(const char* path, std::vector<char>& data, size_t want) {{
    FILE* f = std::fopen(path, "rb");
    if (!f) {{ std::fprintf(stderr, "tb_main: cannot open %s\\n", path); return false; }}
    std::vector<char> all;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) all.insert(all.end(), buf, buf + n);
    std::fclose(f);
    size_t skip = 0;
    if (all.size() >= 10 && std::memcmp(all.data(), "\\x93NUMPY", 6) == 0) {{
        const unsigned char major = (unsigned char)all[6];
        skip = major == 1 ? 10 + ((unsigned char)all[8] | ((unsigned char)all[9] << 8))
                          : 12 + ((unsigned char)all[8] | ((unsigned char)all[9] << 8) | ((unsigned char)all[10] << 16));
    }}
    if (all.size() - skip != want) {{
        std::fprintf(stderr, "tb_main: %s holds %zu bytes of data, expected %zu\\n", path, all.size() - skip, want);
        return false;
    }}
    data.assign(all.begin() + skip, all.end());
    return true;
}}

int main(int argc, char** argv) {{
    int a = 1;
    bool axis = argc > 1 && std::strcmp(argv[1], "--axis") == 0;
    if (axis) a++;
    if (argc != a + 1 + {n_in} + {n_out}) {{
        std::fprintf(stderr, "usage: %s [--axis] N_IMAGES {' '.join(f'IN{i}' for i in range(n_in))} "
                             "{' '.join(f'OUT{i}' for i in range(n_out))}\\n", argv[0]);
        return 2;
    }}
    const unsigned n = (unsigned)std::strtoul(argv[a++], 0, 10);
    const size_t in_bytes[] = {{{sizes_in}}};
    const size_t out_bytes[] = {{{sizes_out}}};
    std::vector<std::vector<char> > ins({n_in}), outs({n_out});
    std::vector<const void*> in_ptrs;
    std::vector<void*> out_ptrs;
    for (int i = 0; i < {n_in}; i++) {{
        if (!read_file(argv[a + i], ins[i], in_bytes[i] * n)) return 1;
        in_ptrs.push_back(ins[i].data());
    }}
    for (int i = 0; i < {n_out}; i++) {{
        outs[i].assign(out_bytes[i] * n + 1, 0);
        out_ptrs.push_back(outs[i].data());
    }}
    const int rc = axis ? fa_csim_run_axis(in_ptrs.data(), out_ptrs.data(), n)
                        : fa_csim_run(in_ptrs.data(), out_ptrs.data(), n);
    if (rc != 0) {{ std::fprintf(stderr, "tb_main: run failed with status %d\\n", rc); return 1; }}
    for (int i = 0; i < {n_out}; i++) {{
        const char* path = argv[a + {n_in} + i];
        FILE* f = std::fopen(path, "wb");
        if (!f || std::fwrite(outs[i].data(), 1, out_bytes[i] * n, f) != out_bytes[i] * n) {{
            std::fprintf(stderr, "tb_main: cannot write %s\\n", path);
            return 1;
        }}
        std::fclose(f);
    }}
    for (int i = 0; i < fa_csim_stage_count(); i++)
        std::printf("%-60s %llu\\n", fa_csim_stage_name(i), fa_csim_stage_cycles(i));
    return 0;
}}
"""


def build_json() -> str:
    d = {"sources": ["src/fa_top.cpp", "csim/fa_csim.cpp"], "include_dirs": ["src", "include", "sim"],
         "defines": [], "cxxflags": CXXFLAGS,
         "tb_sources": ["csim/tb_main.cpp"],
         "note": "paths relative to the bundle's hls/ directory; add the ap_types include directory "
                 "(hls4ml's templates/vivado/ap_types) when compiling"}
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


RUN_CSIM_SH = """#!/bin/sh
# Build and run the standalone C simulation.
#   AP_TYPES=/path/to/ap_types sh csim/run_csim.sh [--axis] N_IMAGES IN0.bin ... OUT0.bin ...
# AP_TYPES: directory holding ap_int.h and hls_stream.h (e.g. hls4ml's templates/vivado/ap_types,
# or $XILINX_HLS/include). Run from anywhere; paths are relative to this script's project.
set -e
HERE=$(cd "$(dirname "$0")/.." && pwd)
: "${AP_TYPES:?set AP_TYPES to the directory holding ap_int.h and hls_stream.h}"
if [ -n "${TB_BIN:-}" ]; then
  BIN=$TB_BIN
else  # a fresh private directory outside the bundle (its files are hashed), never a guessable /tmp name
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/fa_csim.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  BIN="$WORK/fa_csim_tb"
fi
if [ ! -x "$BIN" ]; then
  ${CXX:-g++} -std=c++14 -O2 -w -I"$HERE/src" -I"$HERE/include" -I"$AP_TYPES" -I"$HERE/sim" \\
    "$HERE/src/fa_top.cpp" "$HERE/csim/fa_csim.cpp" "$HERE/csim/tb_main.cpp" -o "$BIN"
fi
"$BIN" "$@"
"""
