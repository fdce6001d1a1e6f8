"""Hostile and malformed inputs give clear errors (exit 2 naming what and where) or warnings,
never internal errors (exit 70), crashes or silent nonsense: ONNX models, data files,
quantisation configs, environment variables, command-line options and Python API arguments."""
import math
import pickle
import re
import shutil
import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import fpga_accel
from fpga_accel.cli import EXIT_ERROR, EXIT_INTERNAL, main
from fpga_accel.compiler import make_config
from fpga_accel.errors import FpgaAccelError, InputError, ModelError, ShapeError, UnsupportedModelError
from fpga_accel.fold.boards import ClockWarning
from fpga_accel.frontend import import_onnx
from fpga_accel.frontend.model_checks import ModelWarning
from fpga_accel.quant import QuantWarning
from fpga_accel.quant.calibrate import load_calibration
from fpga_accel.runtime import Session
from fpga_accel.runtime.feeds import SaturationWarning
from models import data

vi = helper.make_tensor_value_info
init = numpy_helper.from_array
X = vi("x", TP.FLOAT, [1, 4])
Y = vi("y", TP.FLOAT, None)
X4 = vi("x", TP.FLOAT, [1, 3, 8, 8])
W33 = init(np.ones((4, 3, 3, 3), np.float32), "w")


def model(nodes, inputs=(X,), outputs=(Y,), inits=(), opset=13):
    m = helper.make_model(helper.make_graph(nodes, "m", list(inputs), list(outputs), list(inits)),
                          opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def node(op, ins, outs, name="n", **attrs):
    return helper.make_node(op, ins, outs, name=name, **attrs)


def i64(*v):
    return np.array(v, np.int64)


def tensor(dims, raw_values=4, dtype=TP.FLOAT, name="w"):
    """A float initializer whose declared dims may not fit its data."""
    t = helper.make_tensor(name, dtype, [1, 4], np.ones(4, np.float32).tobytes(), raw=True)
    t.raw_data = np.ones(raw_values, np.float32).tobytes()
    t.dims[:] = dims
    return t


def external(location):
    t = helper.make_tensor("w", TP.FLOAT, [1, 4], np.ones(4, np.float32).tobytes(), raw=True)
    t.ClearField("raw_data")
    t.data_location = TP.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    return t


def add_w(t):
    return model([node("Add", ["x", "w"], ["y"], "add")], inits=[t])


def then_add(n, inits):
    """``n`` computes 'c'; the model adds it to x."""
    return model([n, node("Add", ["x", "c"], ["y"], "add")], inits=inits)


def range_model(start, limit, delta, dtype=np.int64):
    vals = [np.array(v, dtype) for v in (start, limit, delta)]
    return then_add(node("Range", ["a", "b", "d"], ["c"], "rng"), [init(v, k) for v, k in zip(vals, "abd")])


def conv(**attrs):
    return model([node("Conv", ["x", "w"], ["y"], "c", **attrs)], inputs=[X4], inits=[W33])


# (id, model, error class, a regex the message must match: what is wrong and where)
BAD_MODELS = [
    ("two_nodes_one_tensor", model([node("Relu", ["x"], ["t"], "a"), node("Sigmoid", ["x"], ["t"], "b"),
                                    node("Relu", ["t"], ["y"], "c")]),
     ModelError, r"tensor 't' is produced twice: by node 'a' \(Relu\) and by node 'b' \(Sigmoid\)"),
    ("node_overwrites_input", model([node("Relu", ["x"], ["x"], "a"), node("Relu", ["x"], ["y"], "c")]),
     ModelError, r"tensor 'x' is produced twice: by graph input 'x' and by node 'a'"),
    ("node_overwrites_initializer", model([node("Relu", ["x"], ["w"], "a"), node("Add", ["x", "w"], ["y"], "c")],
                                          inits=[init(np.ones((1, 4), np.float32), "w")]),
     ModelError, r"tensor 'w' is produced twice: by initializer 'w' and by node 'a'"),
    ("cycle", model([node("Add", ["x", "u"], ["t"], "a"), node("Relu", ["t"], ["u"], "b"),
                     node("Relu", ["u"], ["y"], "c")]),
     ModelError, r"cycle: node\(s\) 'a' \(Add\), 'b' \(Relu\)"),
    ("no_outputs", model([node("Relu", ["x"], ["y"])], outputs=[]), ModelError, "declares no outputs"),
    ("output_is_input", model([node("Relu", ["x"], ["t"])], outputs=[vi("x", TP.FLOAT, [1, 4])]),
     ModelError, "graph output 'x' is a graph input itself"),
    ("input_declared_twice", model([node("Relu", ["x"], ["y"])], inputs=[X, X]), ModelError,
     "graph input 'x' is declared twice"),
    ("constant_of_shape_bomb", then_add(node("ConstantOfShape", ["s"], ["c"], "cos"),
                                        [init(i64(1, 100000, 100000, 1000), "s")]),
     UnsupportedModelError, (r"node 'cos' \(ConstantOfShape\): output shape \[1, 100000, 100000, 1000\] has "
                             r"10,000,000,000,000 elements, more than the 268,435,456")),
    ("constant_of_shape_negative", then_add(node("ConstantOfShape", ["s"], ["c"], "cos"), [init(i64(1, -4), "s")]),
     UnsupportedModelError, r"node 'cos' \(ConstantOfShape\): shape \[1, -4\] has a negative dimension"),
    ("constant_of_shape_float_shape", then_add(node("ConstantOfShape", ["s"], ["c"], "cos"),
                                               [init(np.array([1.5, 4], np.float32), "s")]),
     UnsupportedModelError, r"'cos' \(ConstantOfShape\): the shape input must be a 1-D list of integers"),
    ("constant_of_shape_2d_shape", then_add(node("ConstantOfShape", ["s"], ["c"], "cos"),
                                            [init(np.array([[1, 4]], np.int64), "s")]),
     UnsupportedModelError, r"'cos' \(ConstantOfShape\): the shape input must be a 1-D list of integers"),
    ("constant_of_shape_two_values", then_add(node("ConstantOfShape", ["s"], ["c"], "cos",
                                                   value=init(np.array([1, 2], np.float32))), [init(i64(1, 4), "s")]),
     UnsupportedModelError, r"'cos' \(ConstantOfShape\): value must be one number"),
    ("range_bomb", range_model(0, 10 ** 12, 1), UnsupportedModelError,
     r"node 'rng' \(Range\): output shape \[1000000000000\] has"),
    ("range_to_infinity", range_model(0, np.inf, 1, np.float32), UnsupportedModelError,
     r"node 'rng' \(Range\): start 0, limit inf and delta 1 give no finite length"),
    ("range_step_zero", range_model(0, 5, 0), UnsupportedModelError, r"node 'rng' \(Range\): delta is 0"),
    ("expand_bomb_constant", then_add(node("Expand", ["v", "s"], ["c"], "exp"),
                                      [init(np.ones(1, np.float32), "v"), init(i64(100000, 100000, 4), "s")]),
     UnsupportedModelError, r"node 'exp' \(Expand\): output shape \[100000, 100000, 4\] has 40,000,000,000"),
    ("expand_bomb_input", model([node("Expand", ["x", "s"], ["y"], "exp")], inits=[init(i64(100000, 100000, 4), "s")]),
     UnsupportedModelError, r"node 'exp' \(Expand\): output shape \[100000, 100000, 4\]"),
    ("pad_bomb", model([node("Pad", ["x", "p"], ["y"], "pad")], inits=[init(i64(0, 0, 0, 2 ** 40), "p")]),
     UnsupportedModelError, r"node 'pad' \(Pad\): output shape \[1, 1099511627780\]"),
    ("reshape_two_minus_one", model([node("Reshape", ["x", "s"], ["y"], "rs")], inits=[init(i64(-1, -1), "s")]),
     UnsupportedModelError, r"node 'rs' \(Reshape\): shape \[-1, -1\] has more than one -1"),
    ("reshape_huge", model([node("Reshape", ["x", "s"], ["y"], "rs")], inits=[init(i64(2 ** 40, 2 ** 40), "s")]),
     UnsupportedModelError, r"node 'rs' \(Reshape\): cannot reshape \(1, 4\)"),
    ("input_zero_dim", model([node("Relu", ["x"], ["y"], "r")], inputs=[vi("x", TP.FLOAT, [1, 0])]),
     UnsupportedModelError, r"'x' \(graph input\): dimension 0 at axis \[1\]"),
    ("input_negative_dim", model([node("Relu", ["x"], ["y"], "r")], inputs=[vi("x", TP.FLOAT, [1, -3])]),
     ShapeError, r"input 'x' has dynamic dimension\(s\) \[-3\]"),
    ("input_huge", model([node("Relu", ["x"], ["y"], "r")], inputs=[vi("x", TP.FLOAT, [1, 2 ** 40])]),
     ShapeError, r"input 'x': shape \[1, 1099511627776\] has 1,099,511,627,776 elements"),
    ("input_string", model([node("Relu", ["x"], ["y"], "r")], inputs=[vi("x", TP.STRING, [1, 4])]),
     ModelError, "input 'x' has ONNX data type STRING"),
    ("input_complex", model([node("Relu", ["x"], ["y"], "r")], inputs=[vi("x", TP.COMPLEX64, [1, 4])]),
     ModelError, "input 'x' has ONNX data type COMPLEX64"),
    ("initializer_huge_shape", add_w(tensor([1000000, 1000000])), ShapeError,
     r"initializer 'w': shape \[1000000, 1000000\] has 1,000,000,000,000 elements"),
    ("initializer_raw_data_short", add_w(tensor([1, 4], raw_values=3)), ModelError,
     r"initializer 'w': its data does not fit its declared shape \[1, 4\]"),
    ("initializer_negative_dim", add_w(tensor([1, -4])), ShapeError,
     r"initializer 'w': shape \[1, -4\] has a negative dimension"),
    ("initializer_string", add_w(helper.make_tensor("w", TP.STRING, [1], [b"abc"])), ModelError,
     "initializer 'w' has ONNX data type STRING"),
    ("external_data_leaves_folder", add_w(external("../../etc/passwd")), ModelError,
     r"initializer 'w' external data location '\.\./\.\./etc/passwd' is not a plain relative path"),
    ("external_data_absolute", add_w(external("/etc/passwd")), ModelError,
     r"external data location '/etc/passwd' is not a plain relative path"),
    ("external_data_missing", add_w(external("missing.bin")), ModelError,
     r"initializer 'w': its external data file 'missing\.bin' is missing"),
    ("node_without_inputs", model([node("Relu", [], ["y"], "r")]), UnsupportedModelError,
     r"node 'r' \(Relu\): has 0 input\(s\); Relu takes 1"),
    ("add_with_one_input", model([node("Add", ["x"], ["y"], "a")]), UnsupportedModelError,
     r"node 'a' \(Add\): has 1 input\(s\); Add takes 2"),
    ("conv_without_weights", model([node("Conv", ["x"], ["y"], "c")], inputs=[X4]), UnsupportedModelError,
     r"node 'c' \(Conv\): has 1 input\(s\); Conv takes 2 to 3"),
    ("attribute_of_wrong_type", model([node("Flatten", ["x"], ["y"], "f", axis="abc")]), UnsupportedModelError,
     r"node 'f' \(Flatten\): attribute 'axis' is of type STRING; Flatten expects INT"),
    ("conv_stride_zero", conv(strides=[0, 0]), UnsupportedModelError,
     r"node 'c' \(Conv\): strides \[0, 0\] must hold 2 positive integer\(s\)"),
    ("conv_dilation_zero", conv(dilations=[0, 0]), UnsupportedModelError, r"'c' \(Conv\): dilations \[0, 0\]"),
    ("maxpool_kernel_zero", model([node("MaxPool", ["x"], ["y"], "p", kernel_shape=[0, 0])], inputs=[X4]),
     UnsupportedModelError, r"node 'p' \(MaxPool\): kernel_shape \[0, 0\] must hold"),
    ("maxpool_stride_zero", model([node("MaxPool", ["x"], ["y"], "p", kernel_shape=[2, 2], strides=[0, 0])],
                                  inputs=[X4]),
     UnsupportedModelError, r"node 'p' \(MaxPool\): strides \[0, 0\]"),
    ("batchnorm_negative_variance", model([node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], "bn")],
                                          inputs=[X4], inits=[init(-np.ones(3, np.float32), n) for n in "sbmv"]),
     UnsupportedModelError, r"node 'bn' \(BatchNormalization\): var \+ epsilon is not positive"),
    ("cast_to_string", model([node("Cast", ["x"], ["y"], "c", to=TP.STRING)]), UnsupportedModelError,
     r"node 'c' \(Cast\): casting to ONNX data type 8 is not supported"),
    ("gather_out_of_range", model([node("Gather", ["x", "i"], ["y"], "g", axis=1)], inits=[init(i64(99), "i")]),
     UnsupportedModelError, r"node 'g' \(Gather\): indices \[99\] are out of range"),
    ("constant_without_value", model([node("Constant", [], ["c"], "k"), node("Add", ["x", "c"], ["y"], "add")]),
     ModelError, r"node 'k' \(Constant\): unsupported Constant form"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """The mlp model, a bundle of it and the hostile models, saved in one folder."""
    d = tmp_path_factory.mktemp("hostile")
    shutil.copy(data.model_path("mlp"), d / "mlp.onnx")
    x = data.load_calib("mlp")
    np.save(d / "x.npy", x)
    assert main(["compile", str(d / "mlp.onnx"), "-o", str(d / "mlp.fpga"), "--calib", str(d / "x.npy")]) == 0
    models = d / "models"
    models.mkdir()
    for name, m, _, _ in BAD_MODELS:
        onnx.save(m, str(models / f"{name}.onnx"))
    return d


def cli(capsys, *argv):
    """Run the command line in-process: (exit code, stdout, stderr); never an internal error."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code != EXIT_INTERNAL and "internal error" not in err and "Traceback" not in err, err
    return code, out, err


# --- models --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, error, match", [(c[0], c[2], c[3]) for c in BAD_MODELS],
                         ids=[c[0] for c in BAD_MODELS])
def test_bad_model_is_a_clear_error(work, name, error, match):
    path = work / "models" / f"{name}.onnx"
    with pytest.raises(error, match=match) as e:
        import_onnx(path)
    assert str(path) in str(e.value) or "node '" in str(e.value)  # where: the file or the node


def test_no_bad_model_is_an_internal_error_on_the_command_line(work, capsys):
    """The property over every model above: `inspect` and `compile` exit 2 with the importer's message."""
    codes = {}
    for name, _, _, match in BAD_MODELS:
        path = work / "models" / f"{name}.onnx"
        for command in (["inspect", path], ["compile", path, "-o", work / "never.fpga", "--calib", work / "x.npy"]):
            code, _, err = cli(capsys, *command)
            codes[(name, command[0])] = code
            assert err.startswith("error: ") and re.search(match, err), (name, err)
    assert set(codes.values()) == {EXIT_ERROR} and len(codes) == 2 * len(BAD_MODELS)
    assert not (work / "never.fpga").exists()


def test_opset_newer_than_the_importer_knows_warns_naming_it(work):
    path = work / "new_opset.onnx"
    onnx.save(model([node("Relu", ["x"], ["y"])], opset=30), str(path))
    with pytest.warns(ModelWarning, match=r"new_opset\.onnx: the model uses opset 30, newer than opset 21"):
        g = import_onnx(path)
    assert [n.op_type for n in g.nodes] == ["Relu"]


@pytest.mark.parametrize("given, match", [
    (123, "model must be a path, bytes or an onnx.ModelProto, got int"),
    (None, "model must be a path, bytes or an onnx.ModelProto, got NoneType"),
], ids=["int", "none"])
def test_model_argument_of_the_wrong_kind(given, match):
    with pytest.raises(ModelError, match=match):
        import_onnx(given)


@pytest.mark.parametrize("shapes, match", [
    ({"input": "1,784"}, r"gives input 'input' the shape '1,784'; give a tuple of integers"),
    ({"input": (1.5, 784)}, r"gives input 'input' the shape \(1\.5, 784\)"),
    ({"input": None}, "gives input 'input' the shape None"),
    ([1, 784], "input_shapes must map input names to shapes, got list"),
    ({"input": (0, 784)}, r"every dimension must be at least 1"),
], ids=["string", "float", "none", "list", "zero"])
def test_input_shapes_of_the_wrong_kind(work, shapes, match):
    with pytest.raises(ShapeError, match=match):
        import_onnx(work / "mlp.onnx", input_shapes=shapes)


# --- data files ---------------------------------------------------------------------------------------
def _obj_npz(p):
    np.savez(p, input=np.array([{"a": 1}] * 3, dtype=object))


BAD_FILES = {  # name: (writer, message)
    "object_npy": (lambda p: np.save(p, np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True),
                   r"holds Python objects \(pickled data\), which fpga-accel never loads"),
    "object_npz": (_obj_npz, r"holds Python objects \(pickled data\).* \(array 'input'\)"),
    "pickle": (lambda p: p.write_bytes(pickle.dumps(np.zeros((2, 784), np.float32))), "holds Python objects"),
    "text": (lambda p: p.write_text("hello"), r"not a \.npy or \.npz file \(it starts with b'hello'\)"),
    "garbage_header": (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00" + b"x" * 100), "cannot read as .npy/.npz"),
    "complex": (lambda p: np.save(p, np.zeros((2, 784), np.complex64)), "input 'input' has dtype complex64"),
    "strings": (lambda p: np.save(p, np.array([["a"] * 784] * 2)), "input 'input' has dtype <U1"),
    "bool": (lambda p: np.save(p, np.zeros((2, 784), bool)), "input 'input' has dtype bool"),
    "nan": (lambda p: np.save(p, np.full((2, 784), np.nan, np.float32)), r"input 'input' contains 1568 NaN/Inf"),
    "inf": (lambda p: np.save(p, np.full((2, 784), np.inf, np.float32)), r"input 'input' contains 1568 NaN/Inf"),
    "wrong_shape": (lambda p: np.save(p, np.zeros((2, 100), np.float32)), r"input 'input' has shape \(2, 100\)"),
    "no_samples": (lambda p: np.save(p, np.zeros((0, 784), np.float32)), "input 'input' holds no samples"),
    "scalar": (lambda p: np.save(p, np.float32(3)), r"input 'input' has shape \(\)"),
    "wrong_key": (lambda p: np.savez(p, foo=np.zeros((2, 784), np.float32)), r"\['input'\]; found keys \['foo'\]"),
    "missing": (lambda p: None, "file not found"),
}


@pytest.mark.parametrize("command", ["run", "compile"])
@pytest.mark.parametrize("name", list(BAD_FILES))
def test_bad_data_file_is_a_clear_error(work, capsys, name, command):
    write, message = BAD_FILES[name]
    path = work / f"{name}.{'npz' if name in ('object_npz', 'wrong_key') else 'npy'}"
    if not path.exists():
        write(path)
    argv = (["run", work / "mlp.fpga", "--input", path] if command == "run" else
            ["compile", work / "mlp.onnx", "-o", work / "never.fpga", "--calib", path])
    code, _, err = cli(capsys, *argv)
    assert code == EXIT_ERROR and err.startswith(f"error: {path}: ")
    assert re.search(message, err), err


# --- calibration data that makes the model useless ------------------------------------------------------
def _inputs(work):
    return import_onnx(work / "mlp.onnx").inputs


@pytest.mark.parametrize("make, match", [
    (lambda x: x * 1e30, r"calibration data of input 'input' reaches \|x\| = 1e\+30"),
    (lambda x: x * 1e-30, r"reaches \|x\| = 1e-30"),
    (lambda x: np.ones_like(x), "is the same in all 200 samples"),
    (lambda x: np.zeros_like(x), "is the same in all 200 samples"),
    (lambda x: (x * 255).astype(np.uint8), r"is uint8 in \[0, 255\] but the model takes float32"),
    (lambda x: np.full(x.shape, 2 ** 40, np.int64), r"reaches \|x\| = 1\.1e\+12"),
], ids=["times_1e30", "times_1e-30", "all_ones", "all_zeros", "uint8_pixels", "huge_integers"])
def test_useless_calibration_data_warns(work, make, match):
    x = make(data.load_calib("mlp"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        feeds = load_calibration(x, _inputs(work))
    assert any(re.search(match, str(w.message)) for w in caught), [str(w.message) for w in caught]
    assert all(w.category is QuantWarning for w in caught)
    assert feeds["input"].dtype == np.float32 and feeds["input"].shape == x.shape


def test_sound_calibration_data_gives_no_warning(work, recwarn):
    load_calibration(data.load_calib("mlp"), _inputs(work))
    assert not [w for w in recwarn if issubclass(w.category, QuantWarning)]


def test_useless_calibration_warns_naming_the_file(work, capsys):
    np.save(work / "big.npy", data.load_calib("mlp") * 1e30)
    with pytest.warns(QuantWarning, match=re.escape(f"{work / 'big.npy'}: calibration data of input 'input' "
                                                    "reaches |x| = 1e+30")):
        code, _, _ = cli(capsys, "compile", work / "mlp.onnx", "-o", work / "big.fpga", "--calib", work / "big.npy")
    assert code == 0


# --- quantisation configs ---------------------------------------------------------------------------------
BAD_CONFIGS = [
    ("misspelt_key", {"bitz": 4}, r"unknown key 'bitz'; did you mean 'bits'\?"),
    ("misspelt_observer_option", {"observer": "percentile", "percentil": 99.9},
     r"unknown key 'percentil'; did you mean 'percentile'\?"),
    ("percentile_text", {"observer": "percentile", "percentile": "abc"},
     r"config key 'percentile' \(observer 'percentile'\) must be a number in \(50, 100\], got 'abc'"),
    ("percentile_low", {"observer": "percentile", "percentile": 30}, "must be a number in .50, 100., got 30"),
    ("percentile_nan", {"observer": "percentile", "percentile": math.nan}, "got nan"),
    ("percentile_for_minmax", {"percentile": 99.9},
     "'percentile' is an option of the percentile observer, but the config uses the 'minmax' observer"),
    ("tails_unknown", {"observer": "percentile", "tails": "left"}, "'tails' .* must be one of 'both', 'abs'"),
    ("bins_odd", {"observer": "mse", "bins": 17}, "'bins' .* must be an even integer from 16"),
    ("bits_1", {"bits": 1}, "bit width must be an integer from 2 to 16, got 1"),
    ("bits_17", {"bits": 17}, "got 17"),
    ("bits_text", {"bits": "8"}, "got '8'"),
    ("bits_bool", {"bits": True}, "got True"),
    ("bits_float", {"bits": 8.0}, "got 8.0"),
    ("weight_bits_0", {"weight_bits": 0}, "weight_bits: bit width"),
    ("observer_unknown", {"observer": "median"}, "unknown observer 'median'"),
    ("observer_number", {"observer": 5}, "unknown observer 5"),
    ("layers_list", {"layers": []}, "config key 'layers' must map layer names to settings"),
    ("layer_number", {"layers": {"/0/Gemm": 4}}, "config for layer '/0/Gemm' must be a mapping"),
    ("layer_misspelt_key", {"layers": {"/0/Gemm": {"wieght_bits": 4}}},
     r"config for layer '/0/Gemm': unknown key 'wieght_bits'; did you mean 'weight_bits'\?"),
    ("layer_bits_17", {"layers": {"/0/Gemm": {"act_bits": 17}}}, "layer '/0/Gemm', act_bits: bit width"),
    ("folding_zero", {"layers": {"/0/Gemm": {"folding": {"pe": 0}}}}, "folding: must be a mapping like"),
]


@pytest.mark.parametrize("config, match", [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_is_refused_naming_the_key(config, match):
    with pytest.raises(InputError, match=match):
        make_config(config)


def test_bad_config_file_names_the_file(work, capsys):
    (work / "q.json").write_text('{"bitz": 4}')
    code, _, err = cli(capsys, "compile", work / "mlp.onnx", "-o", work / "never.fpga", "--calib", work / "x.npy",
                       "--config", work / "q.json")
    assert code == EXIT_ERROR and err.startswith(f"error: {work / 'q.json'}: config: unknown key 'bitz'")


@pytest.mark.parametrize("layers, match", [
    ({"/3/MaxPool": {"weight_bits": 4}}, r"layer '/3/MaxPool' \(MaxPool\) has no weights: remove 'weight_bits'"),
    ({"/3/MaxPool": {"act_bits": 4}}, r"layer '/3/MaxPool' \(MaxPool\) takes its output's integers from its input"),
    ({"/b1/Add": {"weight_bits": 4}}, r"names layer\(s\) \['/b1/Add'\] that are not in the accelerated part"),
], ids=["weight_bits_without_weights", "act_bits_of_pass_through", "layer_not_in_model"])
def test_layer_setting_that_does_not_apply_is_an_error(tmp_path, layers, match):
    with pytest.raises(InputError, match=match):
        fpga_accel.compile(data.model_path("mnist_cnn"), tmp_path / "m.fpga", calib=data.HERE / "mnist_cnn" /
                           "calib.npz", config={"layers": layers}, progress=False)
    assert not (tmp_path / "m.fpga").exists()


# --- Session arguments and run-time inputs ------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"timeout": math.inf}, "timeout must be a positive number of seconds or None, got inf"),
    ({"timeout": math.nan}, "got nan"),
    ({"timeout": -1}, "got -1"),
    ({"timeout": 0}, "got 0"),
    ({"timeout": "5"}, "got '5'"),
    ({"timeout": True}, "got True"),
    ({"batch_size": 0}, "batch_size must be a positive integer or None, got 0"),
    ({"batch_size": 1.5}, "got 1.5"),
    ({"backend": "nope"}, "unknown backend 'nope'"),
], ids=["timeout_inf", "timeout_nan", "timeout_negative", "timeout_zero", "timeout_text", "timeout_bool",
        "batch_zero", "batch_float", "backend_unknown"])
def test_bad_session_argument(work, kwargs, match):
    with pytest.raises(InputError, match=match):
        Session(work / "mlp.fpga", **kwargs)


def test_session_of_something_that_is_not_a_bundle():
    with pytest.raises(InputError, match="bundle must be a Bundle or the path of a NAME.fpga directory, got int"):
        Session(123)


@pytest.fixture(scope="module")
def session(work):
    with Session(work / "mlp.fpga") as s:
        yield s


@pytest.mark.parametrize("timeout", [math.nan, -1, "5"], ids=["nan", "negative", "text"])
def test_bad_result_timeout(session, timeout):
    future = session.submit(data.load_calib("mlp")[:2])
    with pytest.raises(InputError, match=r"result\(timeout=...\) must be a number of seconds >= 0 or None"):
        future.result(timeout=timeout)
    assert future.result()["logits"].shape == (2, 10)


@pytest.mark.parametrize("inputs, match", [
    (None, "input 'input' has dtype object"),
    ("abc", "input 'input' has dtype <U3"),
    ({"input": np.zeros((1, 784), np.float32), "foo": 1}, r"unexpected \['foo'\]"),
    (np.zeros((1, 784), np.complex64), "dtype complex64"),
    (np.full((1, 784), np.nan, np.float32), "contains 784 NaN/Inf"),
    (np.full((1, 784), 1e300), "holds values too large for float32"),
], ids=["none", "text", "extra_name", "complex", "nan", "overflows_float32"])
def test_bad_run_input(session, inputs, match):
    with pytest.raises(InputError, match=match):
        session.run(inputs)


def test_model_outputs_without_the_hardware_outputs(session):
    with pytest.raises(InputError, match=r"model_outputs needs the hardware output\(s\) \['logits'\]"):
        session.model_outputs({"x": 1})


def test_saturating_inputs_warn_once_per_session_with_the_fraction(work):
    x = data.load_calib("mlp")
    big = np.where(x > 0.5, 1000.0, x).astype(np.float32)
    share = 100 * np.count_nonzero(big > 1000 - 1) / big.size
    with Session(work / "mlp.fpga") as s:
        with pytest.warns(SaturationWarning, match=rf"'input' [\d,]+ of 156,800 \({share:.2f}%\) outside \[0, 1\]"):
            s.run(big)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            s.run(big)  # once per session
            s.run(x)


def test_inputs_inside_the_range_do_not_warn(session, recwarn):
    session.run(data.load_calib("mlp"))
    assert not [w for w in recwarn if issubclass(w.category, SaturationWarning)]


# --- command-line options ------------------------------------------------------------------------------
BAD_OPTIONS = [
    ("run_timeout_inf", ["run", "{b}", "--input", "{x}", "--timeout", "inf"], "timeout must be a positive number"),
    ("run_timeout_nan", ["run", "{b}", "--input", "{x}", "--timeout", "nan"], "got nan"),
    ("run_timeout_negative", ["run", "{b}", "--input", "{x}", "--timeout", "-1"], "got -1.0"),
    ("run_batch_zero", ["run", "{b}", "--input", "{x}", "--batch-size", "0"], "batch_size must be a positive"),
    ("check_timeout_inf", ["check", "{b}", "--input", "{x}", "--timeout", "inf"], "--timeout must be a positive, finite"),
    ("check_agreement_negative", ["check", "{b}", "--input", "{x}", "--min-agreement", "-5"],
     "--min-agreement must be a number from 0, got -5.0"),
    ("check_agreement_nan", ["check", "{b}", "--input", "{x}", "--min-agreement", "nan"], "got nan"),
    ("check_batch_zero", ["check", "{b}", "--input", "{x}", "--batch-size", "0"], "--batch-size must be at least 1"),
    ("build_jobs_zero", ["build", "{b}", "--dry-run", "--jobs", "0"], "--jobs must be at least 1, got 0"),
    ("build_jobs_negative", ["build", "{b}", "--dry-run", "--jobs", "-4"], "--jobs must be at least 1, got -4"),
    ("build_timeout_nan", ["build", "{b}", "--dry-run", "--timeout", "nan"], "--timeout must be a positive, finite"),
    ("batch_devices_zero", ["batch", "{b}", "--input", "{x}", "--devices", "0"], "--devices must be at least 1"),
    ("batch_size_zero", ["batch", "{b}", "--input", "{x}", "--batch-size", "0"], "--batch-size must be at least 1"),
    ("batch_timeout_zero", ["batch", "{b}", "--input", "{x}", "--timeout", "0"], "--timeout must be a positive"),
    ("batch_retries_negative", ["batch", "{b}", "--input", "{x}", "--max-retries", "-1"], "--max-retries must be at"),
    ("batch_cpus_nan", ["batch", "{b}", "--input", "{x}", "--num-cpus", "nan"], "--num-cpus must be a number"),
    ("compile_clock_inf", ["compile", "{m}", "-o", "{n}", "--calib", "{x}", "--clock", "inf"],
     "clock must be a positive number of MHz, got inf"),
    ("compile_clock_nan", ["compile", "{m}", "-o", "{n}", "--calib", "{x}", "--clock", "nan"], "got nan"),
    ("compile_output_unwritable", ["compile", "{m}", "-o", "/proc/never.fpga", "--calib", "{x}"],
     "/proc/never.fpga: cannot write the bundle"),
    ("inspect_shape_text", ["inspect", "{m}", "--input-shape", "input=1,2**40"], "--input-shape 'input=1,2\\*\\*40'"),
]


@pytest.mark.parametrize("argv, match", [c[1:] for c in BAD_OPTIONS], ids=[c[0] for c in BAD_OPTIONS])
def test_bad_option_is_a_clear_error(work, capsys, argv, match):
    paths = {"b": work / "mlp.fpga", "x": work / "x.npy", "m": work / "mlp.onnx", "n": work / "never.fpga"}
    code, _, err = cli(capsys, *[a.format(**paths) for a in argv])
    assert code == EXIT_ERROR and re.search(match, err), err


def test_clock_beyond_the_part_warns_and_compiles(work, capsys):
    with pytest.warns(ClockWarning, match=r"clock 5000 MHz is above 464 MHz, the most the clock tree of "
                                          r"xc7z020clg400-1 \(pynq-z2\) carries"):
        b = fpga_accel.compile(work / "mlp.onnx", work / "fast.fpga", calib=work / "x.npy", clock_mhz=5000,
                               progress=False)
    assert b.manifest["board"]["clock_mhz"] == 5000 and b.manifest["board"]["max_clock_mhz"] == 464


def test_every_board_states_its_clock_ceiling_and_where_it_comes_from():
    from fpga_accel.fold import board_names, get_board

    for name in board_names():
        b = get_board(name)
        assert b.clock_mhz < b.max_clock_mhz <= 1000 and "not a timing promise" in b.max_clock_source, name


# --- environment variables ----------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "-1", "1.5"])
def test_device_index_that_is_not_a_card_number(work, monkeypatch, value):
    pytest.importorskip("pyopencl")
    from fpga_accel.runtime.backends.opencl import OpenCLBackend

    monkeypatch.setenv("FPGA_ACCEL_DEVICE_INDEX", value)
    why = OpenCLBackend.unavailable(fpga_accel.load_bundle(work / "mlp.fpga"))
    assert why == f"$FPGA_ACCEL_DEVICE_INDEX must be a card number (0, 1, ...), got {value!r}; unset it to use " \
                  "the first card"


def test_cxx_that_is_not_a_command_line(work, monkeypatch):
    from fpga_accel.runtime.backends.csim import CsimBackend

    monkeypatch.setenv("CXX", 'g++ "')
    why = CsimBackend.unavailable(fpga_accel.load_bundle(work / "mlp.fpga"))
    assert why == "$CXX='g++ \"' is not a command line (No closing quotation); fix or unset it"


@pytest.mark.parametrize("value", ["abc", "0", "-2"])
def test_thread_count_that_is_not_a_positive_integer(work, capsys, monkeypatch, value):
    monkeypatch.setenv("FPGA_ACCEL_THREADS", value)
    code, _, err = cli(capsys, "run", work / "mlp.fpga", "--input", work / "x.npy")
    assert code == EXIT_ERROR and f"FPGA_ACCEL_THREADS must be a positive integer, got {value!r}" in err


def test_every_error_here_is_one_of_ours():
    """The classes the cases above expect are all FpgaAccelErrors: the CLI maps them to exit 2."""
    for cls in {c[2] for c in BAD_MODELS} | {InputError, ShapeError}:
        assert issubclass(cls, FpgaAccelError)
