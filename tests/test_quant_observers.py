"""Calibration observers on known distributions; streaming histogram exactness; errors."""
import numpy as np
import pytest

from fpga_accel.errors import InputError
from fpga_accel.quant import (
    MinMaxObserver,
    MSEObserver,
    PercentileObserver,
    activation_params,
    dequantize,
    observer,
    quantize,
)
from fpga_accel.quant.histogram import Histogram


def batches(x, n=10):
    return np.array_split(x, n)


def true_mse(x, lo, hi, qtype=None, bits=8):
    p = activation_params(lo, hi, qtype, bits=bits)
    return float(np.mean((dequantize(quantize(x, p), p, np.float64) - x) ** 2))


def test_minmax_is_exact_over_batches():
    x = np.random.default_rng(0).uniform(-2, 3, size=10_000)
    o = observer("minmax", name="t")
    for b in batches(x):
        o.update(b.reshape(10, -1))
    assert o.range() == (x.min(), x.max()) and o.count == x.size


def test_histogram_growth_merges_bins_exactly():
    g = np.random.default_rng(1)
    parts = [np.zeros(7), g.normal(0, 0.01, 1000), np.zeros(3), g.normal(0, 1, 1000), g.standard_cauchy(1000) * 100]
    h = Histogram(256)
    for p in parts:
        h.add(p)
    x = np.concatenate(parts)
    assert h.R == 2.0 ** np.frexp(np.abs(x).max())[1] and h.R > np.abs(x).max()
    direct = np.bincount((np.floor(x / h.width) + 128).astype(int), minlength=256)
    np.testing.assert_array_equal(h.counts, direct)
    small = Histogram(256)  # a later all-zero batch does not grow the range
    small.add(np.array([0.1, -0.2]))
    small.add(np.zeros(5))
    assert small.R == 0.25 and small.counts.sum() == 7


@pytest.mark.parametrize("p", [99.0, 99.9, 99.99])
def test_percentile_both_tails_matches_numpy(p):
    g = np.random.default_rng(2)
    x = np.concatenate([g.normal(1.0, 2.0, 300_000), g.normal(1.0, 2.0, 300_000) * 0.5])  # two batch scales
    o = PercentileObserver(percentile=p)
    for b in batches(x):
        o.update(b)
    lo, hi = o.range()
    w = o.hist.width
    assert abs(lo - np.percentile(x, 100 - p)) <= 2 * w and abs(hi - np.percentile(x, p)) <= 2 * w


def test_percentile_of_standard_normal():
    x = np.random.default_rng(3).standard_normal(1_000_000)
    o = observer("percentile", percentile=99.9)
    for b in batches(x, 20):
        o.update(b)
    lo, hi = o.range()
    assert lo == pytest.approx(-3.0902, abs=0.03) and hi == pytest.approx(3.0902, abs=0.03)


def test_percentile_abs_tail_and_limits():
    g = np.random.default_rng(4)
    x = np.abs(g.standard_normal(200_000))  # non-negative: the range stays at [min, a]
    o = observer("percentile", percentile=99.0, tails="abs")
    o.update(x)
    lo, hi = o.range()
    assert lo == x.min() and abs(hi - np.percentile(x, 99)) <= 2 * o.hist.width
    y = g.standard_normal(200_000) * 3
    o2 = observer("percentile", percentile=99.0, tails="abs")
    o2.update(y)
    a = np.percentile(np.abs(y), 99)
    assert o2.range() == pytest.approx((-a, a), abs=2 * o2.hist.width)
    o3 = observer("percentile", percentile=100)
    o3.update(y)
    assert o3.range() == (y.min(), y.max())


def test_mse_keeps_the_full_range_of_uniform_data():
    x = np.random.default_rng(5).uniform(-1, 3, 100_000)
    o = observer("mse")
    o.update(x)
    lo, hi = o.range()
    assert lo <= 0.97 * x.min() and hi >= 0.97 * x.max()


@pytest.mark.parametrize("qtype,bits,gain", [(None, 8, 0.6), ("int4", 4, 0.3)])
def test_mse_beats_minmax_on_heavy_tails(qtype, bits, gain):
    x = np.random.default_rng(6).standard_t(3, 500_000)  # heavy tails, finite variance
    mse, mm = MSEObserver(qtype=qtype, bits=bits), MinMaxObserver()
    for b in batches(x):
        mse.update(b)
        mm.update(b)
    e_mse, e_mm = true_mse(x, *mse.range(), qtype, bits), true_mse(x, *mm.range(), qtype, bits)
    assert e_mse <= gain * e_mm
    # no worse than the best range of the same candidate grid evaluated on the data itself
    best = min(true_mse(x, a * x.min(), a * x.max(), qtype, bits) for a in mse.candidates())
    assert e_mse <= 1.02 * best


@pytest.mark.parametrize("bits,clip", [(4, 5.03), (8, 9.89)])
def test_mse_clipping_of_laplace_matches_the_known_optimum(bits, clip):
    # optimal clipping of Laplace(0, b) for uniform quantisation: 5.03·b at 4 bits, 9.89·b at 8 bits
    # (Banner, Nahshan, Soudry: "Post-training 4-bit quantization", NeurIPS 2019)
    x = np.random.default_rng(7).laplace(0, 1, 1_000_000)
    o = observer("mse", qtype=f"int{bits}")
    o.update(x)
    lo, hi = o.range()
    assert -lo == pytest.approx(clip, rel=0.1) and hi == pytest.approx(clip, rel=0.1)


def test_mse_of_a_tensor_that_never_reaches_zero_keeps_the_range_from_zero():
    """A narrow all-positive tensor (an average of ReLU outputs): the range is taken from 0, as
    activation_params widens it, so shrinking its top never crosses its bottom."""
    x = np.random.default_rng(3).uniform(0.03279, 0.03286, 20_000)
    o = MSEObserver()
    for b in batches(x):
        o.update(b)
    lo, hi = o.range()
    assert lo == 0.0 and x.max() / 2 < hi <= x.max()
    assert true_mse(x, lo, hi) <= true_mse(x, 0.0, x.max())


def test_mse_with_a_coarse_histogram_still_has_candidates():
    o = MSEObserver(bins=16)
    o.update(np.linspace(-1, 3, 1000))
    lo, hi = o.range()
    assert -1 <= lo < 0 < hi <= 3


def test_all_zero_data_gives_zero_range():
    for kind in ("minmax", "percentile", "mse"):
        o = observer(kind)
        o.update(np.zeros(100))
        assert o.range() == (0.0, 0.0)


def test_errors_name_the_tensor():
    with pytest.raises(InputError, match="tensor 'conv4_out': the percentile observer has seen no data"):
        observer("percentile", name="conv4_out").range()
    o = observer("mse", name="fc_out")
    o.update(np.array([]))
    with pytest.raises(InputError, match="tensor 'fc_out': the mse observer has seen no data"):
        o.range()
    with pytest.raises(InputError, match="tensor 'fc_out': calibration batch has 2 NaN/Inf"):
        o.update(np.array([1.0, np.nan, np.inf]))
    with pytest.raises(InputError, match="unknown observer 'entropy'; choose one of minmax, percentile, mse"):
        observer("entropy")
    with pytest.raises(InputError, match="observer 'minmax'.*percentile"):
        observer("minmax", percentile=99)
    with pytest.raises(InputError, match=r"percentile must be in \(50, 100\]"):
        observer("percentile", percentile=50)
    with pytest.raises(InputError, match="bits must be in 2..16, got 1"):
        observer("mse", bits=1)
    with pytest.raises(InputError, match="tails must be"):
        observer("percentile", tails="upper")
    with pytest.raises(InputError, match="bins must be an even integer"):
        observer("mse", bins=15)
