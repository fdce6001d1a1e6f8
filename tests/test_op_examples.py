"""Every registered op: its examples run through import + float reference == onnxruntime."""
import pytest

from fpga_accel.ops import all_ops

from onnx_util import assert_close, feeds_of, node_model, run_ir, run_ort

CASES = [(op, ex) for op in all_ops() for ex in op.examples()]


@pytest.mark.parametrize("op,ex", CASES, ids=[f"{op.op_type}-{ex.name or i}" for i, (op, ex) in enumerate(CASES)])
def test_example_matches_onnxruntime(op, ex):
    model = node_model(op.op_type, ex.attrs, ex.inputs, ex.const, ex.opset, ex.n_outputs, op.domain,
                       ex.extra.get("functions", ()))
    feeds = feeds_of(model, ex.inputs, ex.const)
    want = run_ort(model, feeds)
    got = run_ir(model, feeds)
    for g, w in zip(got, want):
        assert_close(g, w, what=f"{op.op_type} {ex.name}")


def test_every_op_has_examples():
    missing = [op.op_type for op in all_ops() if not op.examples()]
    assert not missing, f"ops without conformance examples: {missing}"
