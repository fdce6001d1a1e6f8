"""Train the example float models and export them to ONNX (opset 13, batch dimension ``N``).

    python models/train.py                   # all of them
    python models/train.py mnist_cnn mlp     # some of them
    python models/quantize_qdq.py            # mnist_cnn_qdq alone (train.py runs it after mnist_cnn)

Needs torch 2.13.0 (CPU) besides the package's compile extra; reads ../shared/corpus/data. Writes,
per model, ``models/<name>/{model.onnx,calib.npz,test.npz}`` and its entry in ``registry.json``,
with the test accuracy measured by onnxruntime on the exported file. Runs on one thread with fixed
seeds and deterministic kernels, so a rerun with the same torch version gives the same files.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nets
import numpy as np
import onnx
import onnxruntime
import torch
from common import (
    CORPUS_DATA,
    HERE,
    LICENCES,
    file_entry,
    op_types,
    ort_accuracy,
    ort_logits,
    save_npz,
    update_registry,
)
from torch import nn

TORCH_VERSION = "2.13.0"
OPSET = 13
SEED = 0
CALIB_COUNT = 200

MNIST_SPLIT = ("stratified: mnist_5k.npz is sorted by class (500 images each); of each class, in file order, "
               "the first 400 images train and the last 100 test (4000 train / 1000 test)")
MNIST_CALIB = "the first 20 training images of each class, in file order (200)"
DIGITS_SPLIT = ("numpy.random.default_rng(0).permutation(1797) over digits.npz rows: the first 1500 train, "
                "the last 297 test")
DIGITS_CALIB = "the first 200 training rows of that permutation"
PREPROCESS = {
    "mnist": "x = float32(pixel) / 255 with pixel the uint8 0..255 grey level (white digit on black); "
             "no mean/std normalisation",
    "digits": "x = float32(value) / 16 with value the 0..16 integer intensity of scikit-learn's digits; "
              "no mean/std normalisation",
}


@dataclass(frozen=True)
class Spec:
    """What to train: the network, its data, its input shape (without N) and the schedule.

    ``shift`` > 0 augments every epoch with random translations of up to that many pixels, which
    is what lifts the 4000-image MNIST models a point or two.
    """

    net: type[nn.Module]
    dataset: str
    shape: tuple[int, ...]
    description: str
    epochs: int
    lr: float = 3e-3
    batch: int = 64
    shift: int = 0


SPECS = {
    "mnist_cnn": Spec(nets.MnistCnn, "mnist", (1, 28, 28), "MNIST CNN: Conv(8,3x3)+BN+ReLU, MaxPool2, "
                      "Conv(16,3x3)+BN+ReLU, MaxPool2, Flatten, Linear(784->10); BN folded into Conv by the "
                      "exporter", epochs=12, shift=2),
    "digits_cnn": Spec(nets.DigitsCnn, "digits", (1, 8, 8), "8x8 digits CNN: Conv(8,3x3)+BN+ReLU, "
                       "Conv(16,3x3)+BN+ReLU, MaxPool2, Flatten, Linear(256->10); BN folded into Conv by the "
                       "exporter", epochs=30),
    "mlp": Spec(nets.Mlp, "mnist", (784,), "MNIST MLP on the flattened image: Linear(784->64), BatchNorm1d, ReLU, "
                "Linear(64->32), ReLU, Linear(32->10); the BatchNormalization node stays in the graph",
                epochs=30, shift=2),
    "resnet_ds": Spec(nets.ResnetDs, "mnist", (1, 28, 28), "MNIST residual CNN with depthwise-separable blocks: "
                      "stem Conv(32,3x3)+BN+ReLU, MaxPool2, block(dw3x3+BN+ReLU, pw1x1+BN, identity Add, ReLU), "
                      "block(stride 2, 32->64, 1x1 stride-2 projection shortcut), GlobalAveragePool, Linear(64->10); "
                      "BN folded into Conv by the exporter", epochs=15, lr=1e-2, shift=2),
}


def load_mnist(corpus: Path) -> dict:
    """The stratified MNIST split as raw uint8 images plus their corpus row indexes."""
    with np.load(corpus / "mnist_5k.npz") as z:
        images, labels = z["X"], z["y"].astype(np.int64)
    per_class = [np.flatnonzero(labels == c) for c in range(10)]
    train = np.concatenate([idx[:400] for idx in per_class])
    test = np.concatenate([idx[400:] for idx in per_class])
    calib = np.concatenate([idx[:20] for idx in per_class])
    return {"raw": images, "y": labels, "divisor": 255.0, "train": train, "test": test, "calib": calib}


def load_digits(corpus: Path) -> dict:
    """The permuted digits split; the float64 0..16 values are integers, kept as uint8."""
    with np.load(corpus / "digits.npz") as z:
        values, labels = z["X"], z["y"].astype(np.int64)
    raw = values.astype(np.uint8)
    if not np.array_equal(raw, values):
        raise ValueError(f"{corpus / 'digits.npz'}: expected integer values 0..16, found others")
    perm = np.random.default_rng(0).permutation(len(labels))
    train, test = perm[:1500], perm[1500:]
    return {"raw": raw, "y": labels, "divisor": 16.0, "train": train, "test": test, "calib": train[:CALIB_COUNT]}


def inputs(ds: dict, rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Preprocessed float32 model inputs of the given corpus rows."""
    return (ds["raw"][rows].astype(np.float32) / np.float32(ds["divisor"])).reshape(len(rows), *shape)


def shifted(x: np.ndarray, shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each square image of ``x`` (any shape (n, ...) holding n*h*h values) moved by a random
    (dy, dx) in [-shift, shift], zero filled."""
    side = round(x[0].size ** 0.5)
    img = np.pad(x.reshape(len(x), side, side), ((0, 0), (shift, shift), (shift, shift)))
    dy, dx = rng.integers(0, 2 * shift + 1, (2, len(x)))
    out = np.stack([img[i, dy[i]:dy[i] + side, dx[i]:dx[i] + side] for i in range(len(x))])
    return out.reshape(x.shape)


def fit(net: nn.Module, x: np.ndarray, y: np.ndarray, spec: Spec) -> None:
    """Adam with a cosine learning-rate decay; batch order and shifts from a seeded numpy generator."""
    yt = torch.from_numpy(y)
    steps_per_epoch = -(-len(x) // spec.batch)
    opt = torch.optim.Adam(net.parameters(), lr=spec.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=spec.epochs * steps_per_epoch)
    rng = np.random.default_rng(SEED)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for epoch in range(spec.epochs):
        xt = torch.from_numpy(shifted(x, spec.shift, rng) if spec.shift else x)
        order = torch.from_numpy(rng.permutation(len(x)))
        total = 0.0
        for i in range(0, len(x), spec.batch):
            idx = order[i:i + spec.batch]
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1:2d}/{spec.epochs}  loss {total / len(x):.4f}")
    net.eval()


def export(net: nn.Module, shape: tuple[int, ...], path: Path) -> None:
    """Legacy (TorchScript) exporter: plain Conv/Gemm/Relu/MaxPool/Flatten nodes, BN folded into Conv."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(
            net, (torch.zeros(1, *shape),), str(path), opset_version=OPSET, dynamo=False,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True,
        )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def build(name: str, spec: Spec, ds: dict) -> dict:
    """Train, export, write the data files; return the registry entry."""
    print(f"{name}: training {spec.epochs} epochs on {len(ds['train'])} samples")
    torch.manual_seed(SEED)
    net = spec.net()
    x_train, y_train = inputs(ds, ds["train"], spec.shape), ds["y"][ds["train"]]
    x_test, y_test = inputs(ds, ds["test"], spec.shape), ds["y"][ds["test"]]
    fit(net, x_train, y_train, spec)

    out = HERE / name
    model = out / "model.onnx"
    export(net, spec.shape, model)
    with torch.no_grad():
        torch_logits = net(torch.from_numpy(x_test)).numpy()
    ort_out = ort_logits(model, x_test, "input")
    print(f"  torch accuracy {100 * (torch_logits.argmax(1) == y_test).mean():.2f}%, "
          f"max |torch - onnxruntime| = {np.abs(torch_logits - ort_out).max():.2e}")

    calib = inputs(ds, ds["calib"], spec.shape)
    save_npz(out / "calib.npz", input=calib)
    raw_test = ds["raw"][ds["test"]].reshape(len(ds["test"]), *spec.shape)
    save_npz(out / "test.npz", x=raw_test, y=y_test, divisor=np.float32(ds["divisor"]),
             index=ds["test"].astype(np.int32))
    correct, acc = ort_accuracy(model, x_test, y_test, "input")
    print(f"  onnxruntime test accuracy {acc:.2f}% ({correct}/{len(y_test)}), {model.stat().st_size} bytes")

    mnist = spec.dataset == "mnist"
    return {
        "description": spec.description,
        **file_entry(model, bytes=model.stat().st_size),
        "opset": OPSET,
        "ops": op_types(model),
        "params": sum(p.numel() for p in net.parameters()),
        "input": {"name": "input", "shape": ["N", *spec.shape], "dtype": "float32"},
        "output": {"name": "logits", "shape": ["N", 10], "dtype": "float32",
                   "meaning": "class scores before softmax; argmax is the digit"},
        "preprocessing": PREPROCESS[spec.dataset] + f"; reshaped to (N, {', '.join(map(str, spec.shape))})",
        "split": MNIST_SPLIT if mnist else DIGITS_SPLIT,
        "calib": file_entry(out / "calib.npz", key="input", shape=list(calib.shape), dtype="float32",
                            selection=MNIST_CALIB if mnist else DIGITS_CALIB),
        "test": file_entry(out / "test.npz", count=len(y_test), x_shape=list(x_test.shape),
                           stored=f"x: {raw_test.dtype} raw values, divided by `divisor` "
                                  f"({ds['divisor']:g}) on load; y: int64 labels; index: row in the corpus file"),
        "test_accuracy": acc,
        "test_correct": correct,
        "accuracy_by": f"onnxruntime {onnxruntime.__version__} CPUExecutionProvider on model.onnx",
        "training": {"epochs": spec.epochs, "batch": spec.batch, "optimizer": f"Adam lr {spec.lr:g} "
                     "weight_decay 1e-4, cosine decay per step", "augmentation": f"random shift up to "
                     f"{spec.shift} pixels" if spec.shift else "none", "seed": SEED, "torch": torch.__version__},
        "source": "models/train.py",
        "data_licence": LICENCES[spec.dataset],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"models to build: {', '.join(SPECS)} (default: all)")
    parser.add_argument("--corpus", type=Path, default=CORPUS_DATA, help="folder with mnist_5k.npz, digits.npz")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in SPECS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(SPECS)}")
    if not torch.__version__.startswith(TORCH_VERSION):
        print(f"warning: torch {torch.__version__}, the registry was made with {TORCH_VERSION}; "
              "files and hashes will differ", file=sys.stderr)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    loaders = {"mnist": load_mnist, "digits": load_digits}
    cache: dict[str, dict] = {}
    for name in args.names or list(SPECS):
        spec = SPECS[name]
        if spec.dataset not in cache:
            cache[spec.dataset] = loaders[spec.dataset](args.corpus)
        start = time.perf_counter()
        update_registry(name, build(name, spec, cache[spec.dataset]))
        print(f"  {time.perf_counter() - start:.1f} s")
    if "mnist_cnn" in (args.names or SPECS):
        import quantize_qdq  # the QDQ model is derived from mnist_cnn and would be stale otherwise

        quantize_qdq.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
