"""``generate_hls(stage_dir, qmodel, manifest)``: the self-contained Vitis HLS project of a bundle.

Writes ``stage_dir/hls/``: ``include/fpga_accel/*.h`` (the PE library), ``src/fa_top.{h,cpp}``
(the dataflow network and the tops ``fa_kernel`` / ``fa_axis``, with ``_s<k>`` in segment k), ``src/params/*.h`` (weights and
constants per layer), ``csim/`` (C ABI, standalone testbench, build.json, run_csim.sh), ``sim/``
(the ap_axi_sdata.h stand-in for g++), ``run_hls.tcl``, ``hls_config.cfg`` and ``README.md``; and adds
``manifest["kernel"]`` and ``manifest["hls"]``. The same inputs always give the same bytes.
"""
from __future__ import annotations

from pathlib import Path

from ..bundle_kernel import kernel_interface
from ..escape import c_comment, ident
from ..fold.fifos import bram_streams
from ..segments.names import tops as top_names
from ..toolchain import HLS_ROOT
from .csim_harness import RUN_CSIM_SH, build_json, csim_source, tb_source
from .network import build_network, resolve_fifo_depths
from .readme import readme_text
from .tcl import hls_config, tcl_script
from .top import HEADERS, MEM_BITS, params_header, stage_names, top_header, top_source
from .uram_load import BLOB, blob_bytes, loaded_arrays, manifest_section
from .uram_load import HEADER as LOAD_HEADER


def generate_hls(stage_dir: Path, qmodel, manifest: dict) -> None:
    """Write the HLS project under ``stage_dir / "hls"`` and the kernel / hls manifest sections.

    Raises UnsupportedModelError listing every layer without a processing element, or InputError
    listing every layer whose folding does not fit."""
    net = build_network(qmodel, manifest)
    if manifest.get("fifo_depths"):  # recorded by full stream name, whichever way they were given
        manifest["fifo_depths"] = resolve_fifo_depths(manifest["fifo_depths"], net.streams)
    loaded = loaded_arrays(net, uram_arrays(manifest))
    files = render(net, qmodel, manifest, loaded)
    manifest.pop("uram_load", None)
    if loaded:  # the URAM weights: read by the load call from DDR, not compiled into the bitstream
        data = blob_bytes(loaded)
        blob = Path(stage_dir) / BLOB
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        manifest["uram_load"] = manifest_section(loaded, data)
    root = Path(stage_dir) / "hls"
    for rel, text in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    lanes = {t.name: p.lanes for t, p, _ in net.inputs + net.outputs}
    manifest["kernel"] = kernel_interface(qmodel, lanes, top_names(manifest), load=bool(loaded))
    manifest["hls"] = hls_section(net, qmodel, top_names(manifest))


def render(net, qmodel, manifest: dict, loaded: list) -> dict[str, str]:
    """Every file of the project, path (relative to hls/) -> text; ``loaded``: the URAM weight arrays
    the load call fills (uram_load.loaded_arrays)."""
    model = c_comment(qmodel.name)
    tops = top_names(manifest)  # a segment's tops carry its index: one bitstream holds every segment
    uram = uram_arrays(manifest)
    wmem_words = sum(item.words for item, _ in loaded)
    files: dict[str, str] = {}
    for h in HEADERS + ([LOAD_HEADER] if loaded else []):
        files[f"include/fpga_accel/{h}"] = (HLS_ROOT / "include" / "fpga_accel" / h).read_text(encoding="utf-8")
    files["sim/ap_axi_sdata.h"] = (HLS_ROOT / "sim" / "ap_axi_sdata.h").read_text(encoding="utf-8")
    by_layer: dict[int, list] = {}
    for c in net.calls:
        if c.stage.arrays and c.layer_index is not None:
            by_layer.setdefault(c.layer_index, []).append(c)
    param_files = []
    for li, calls in sorted(by_layer.items()):
        stem = ident(qmodel.layers[li].name, li)
        param_files.append(f"{stem}.h")
        files[f"src/params/{stem}.h"] = params_header(net, stem, calls, model, {i.var: i for i, _ in loaded})
    files["src/fa_top.h"] = top_header(net, model, tops, wmem_words)
    fifo_bram = (manifest.get("fold") or {}).get("fifo_bram")
    bound = bram_streams([(v, d, p.word_bits) for v, (p, d, _) in net.streams.items()], fifo_bram)
    files["src/fa_top.cpp"] = top_source(net, model, param_files, tops, uram, loaded, bram_arrays(manifest), bound)
    files["csim/fa_csim.cpp"] = csim_source(net, model, tops, bool(loaded))
    files["csim/tb_main.cpp"] = tb_source(net, model, bool(loaded))
    files["csim/build.json"] = build_json()
    files["csim/run_csim.sh"] = RUN_CSIM_SH
    files["run_hls.tcl"] = tcl_script(manifest, len(net.inputs), len(net.outputs))
    files["hls_config.cfg"] = hls_config(manifest)
    files["README.md"] = readme_text(net, qmodel, manifest, param_files)
    if loaded:
        files["README.md"] += URAM_README.format(n=len(loaded), words=wmem_words)
    return files


URAM_README = """
## Weights in URAM, loaded at start

{n} weight array(s) live in URAM, which holds nothing after configuration (AMD UG573): they are
writable arrays in `src/params/`, filled by a start of either top with `load = 1` from the `wmem`
buffer ({words} memory words: the bundle's `weights/uram.bin`, offsets in `manifest["uram_load"]`).
The standalone C simulation takes that file first:

```sh
sh csim/run_csim.sh --weights ../weights/uram.bin 10 input0.bin output0.bin
```
"""


def uram_arrays(manifest: dict) -> dict[str, set[str]]:
    """Per layer name, the "kind/role" memories the fold placed in URAM (manifest estimates; only ever
    compared with the stages' own names, never written into the code)."""
    return placed_arrays(manifest, "uram_arrays")


def bram_arrays(manifest: dict) -> dict[str, set[str]]:
    """Per layer name, the "kind/role" memories small enough for LUTRAM that the fold bound to BRAM18
    because LUTs ran over budget (``estimate.bram_arrays``; compared with names only, as above)."""
    return placed_arrays(manifest, "bram_arrays")


def placed_arrays(manifest: dict, key: str) -> dict[str, set[str]]:
    """Per layer name, the "kind/role" names listed under ``estimate[key]`` (anything else ignored)."""
    out = {}
    for entry in manifest.get("layers") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("estimate"), dict):
            continue
        names = entry["estimate"].get(key)
        if isinstance(entry.get("name"), str) and isinstance(names, list):
            out[entry["name"]] = {n for n in names if isinstance(n, str)}
    return out


def hls_section(net, qmodel, tops: tuple[str, str] = ("fa_kernel", "fa_axis")) -> dict:
    """manifest["hls"]: per layer its stages (kind, params, folding, stream widths), plus the
    plumbing stages and the names the C simulation reports its cycle counts under."""
    layers = []
    for layer in qmodel.layers:
        stages = [s.describe() for s in net.layer_stages.get(layer.name, []) if s.kind != "rename"]
        layers.append({"name": layer.name, "op": layer.op_type, "stages": stages})
    plumbing = [dict(c.stage.describe(), tensor=c.stage.layer) for c in net.calls
                if c.stage.kind in ("duplicate", "width_convert")]
    streams = [{"name": v, "tensor": p.tensor.split("#")[0], "bits": p.word_bits, "lanes": p.lanes, "depth": d}
               for v, (p, d, _) in net.streams.items()]
    return {"top_kernel": tops[0], "top_axis": tops[1], "mem_bits": MEM_BITS, "layers": layers,
            "plumbing": plumbing, "streams": streams, "stage_names": stage_names(net)}
