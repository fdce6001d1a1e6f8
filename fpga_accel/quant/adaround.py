"""Learned rounding of one layer's weights (AdaRound: Nagel et al., "Up or down? Adaptive rounding
for post-training quantization", ICML 2020), in numpy.

Each weight w (scale s, its channel's) becomes s · (floor(w / s) + h) with h in {0, 1} chosen to
make the layer's output on the calibration data close to the float layer's, rather than h =
round-to-nearest. Relaxed: h = clip(sigmoid(V) · (ζ − γ) + γ, 0, 1) (the rectified sigmoid),
V learned with Adam on

    ‖X_f Wᵀ − X_q Ŵᵀ‖² / ‖X_f Wᵀ − X_q W_nearestᵀ‖²  +  λ · mean(1 − |2h − 1|^β)

where X_f are the layer's float inputs (im2col rows for a convolution) and X_q the inputs the
quantised layers before it really give (so each layer also makes up for the error of those
before), and β falls from 20 to 2 after a warm-up, pushing every h to 0 or 1. The squared error
of a linear layer only needs the Gram matrices Xᵀ X (K × K for K inputs per output), so a step
costs O(out · K²) whatever the amount of data. At the end h is rounded to 0 or 1; if the hard
rounding does not beat round-to-nearest on the calibration data, round-to-nearest is kept.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

ZETA, GAMMA = 1.1, -0.1
BETA_START, BETA_END, WARMUP = 20.0, 2.0, 0.2
LAMBDA = 1.0
LEARNING_RATE = 0.05


@dataclass
class Grams:
    """Second moments of a layer's inputs, per row of data: qq = X_qᵀX_q / P, fq = X_fᵀX_q / P,
    ff = X_fᵀX_f / P (K × K each)."""

    qq: np.ndarray
    fq: np.ndarray
    ff: np.ndarray

    @staticmethod
    def of(x_f: np.ndarray, x_q: np.ndarray) -> Grams:
        x_f, x_q = x_f.astype(np.float64), x_q.astype(np.float64)
        p = max(1, x_f.shape[0])
        return Grams(x_q.T @ x_q / p, x_f.T @ x_q / p, x_f.T @ x_f / p)


def reconstruction_error(w: np.ndarray, w_hat: np.ndarray, gr: Grams) -> np.ndarray:
    """Mean over the data rows of (x_f·w_c − x_q·ŵ_c)², per output channel c (rows of ``w``)."""
    return (np.einsum("ck,kl,cl->c", w, gr.ff, w) - 2 * np.einsum("ck,kl,cl->c", w, gr.fq, w_hat)
            + np.einsum("ck,kl,cl->c", w_hat, gr.qq, w_hat))


def _rect_sigmoid(v: np.ndarray) -> np.ndarray:
    return np.clip(1 / (1 + np.exp(-v)) * (ZETA - GAMMA) + GAMMA, 0, 1)


@dataclass
class Rounding:
    """The result for one layer: integer weights, and how they were found."""

    weights: np.ndarray  # integers, the shape of the ``w`` given
    iterations: int  # Adam steps run
    error_nearest: float  # calibration reconstruction error (sum over channels) of round-to-nearest
    error: float  # ... of the weights returned
    learned: bool  # False: round-to-nearest was as good or better and is kept
    flipped: float  # share of weights rounded the other way than to nearest


def learn_rounding(w: np.ndarray, scales: np.ndarray, qmin: int, qmax: int, grams: Grams,
                   iterations: int = 1000, deadline: float | None = None, lam: float = LAMBDA) -> Rounding:
    """Integer weights for ``w`` (out, K) at per-row ``scales`` within [qmin, qmax], each the floor
    or the ceiling of w / s, learned as the module docs say. ``deadline`` (time.monotonic()) stops
    the steps early."""
    w = np.asarray(w, np.float64)
    s = np.asarray(scales, np.float64).reshape(-1, 1)
    base = np.floor(w / s)
    frac = w / s - base
    nearest = np.clip(np.rint(w / s), qmin, qmax)
    e_near = reconstruction_error(w, nearest * s, grams)
    norm = max(float(e_near.sum()), 1e-30)
    # V with h(V) = the fractional part: the start is the float weights themselves
    r = np.clip((frac - GAMMA) / (ZETA - GAMMA), 1e-4, 1 - 1e-4)
    v = np.log(r / (1 - r))
    m1, m2 = np.zeros_like(v), np.zeros_like(v)
    b1, b2, eps = 0.9, 0.999, 1e-8
    target = w @ grams.fq  # (out, K): the part of the gradient that does not change
    warm = int(WARMUP * iterations)
    done = 0
    for t in range(1, int(iterations) + 1):
        if deadline is not None and time.monotonic() > deadline:
            break
        sig = 1 / (1 + np.exp(-v))
        h_raw = sig * (ZETA - GAMMA) + GAMMA
        h = np.clip(h_raw, 0, 1)
        w_hat = s * (base + h)
        grad_what = 2 * (w_hat @ grams.qq - target) / norm
        grad_h = grad_what * s
        if t > warm:
            beta = BETA_END + (BETA_START - BETA_END) * (1 - (t - warm) / max(1, iterations - warm))
            u = 2 * h - 1
            # d/dh of λ·mean(1 − |u|^β) = −λ β |u|^(β−1) sign(u) · 2 / n
            grad_h = grad_h - lam * beta * np.abs(u) ** (beta - 1) * np.sign(u) * 2 / v.size
        grad_v = grad_h * ((h_raw > 0) & (h_raw < 1)) * (ZETA - GAMMA) * sig * (1 - sig)
        m1 = b1 * m1 + (1 - b1) * grad_v
        m2 = b2 * m2 + (1 - b2) * grad_v * grad_v
        v = v - LEARNING_RATE * (m1 / (1 - b1 ** t)) / (np.sqrt(m2 / (1 - b2 ** t)) + eps)
        done = t
    hard = np.clip(base + (_rect_sigmoid(v) >= 0.5), qmin, qmax)
    e_hard = reconstruction_error(w, hard * s, grams)
    learned = bool(e_hard.sum() < e_near.sum())
    chosen = hard if learned else nearest
    return Rounding(chosen.astype(np.int64), done, float(e_near.sum()), float(min(e_hard.sum(), e_near.sum())),
                    learned, float(np.mean(chosen != nearest)))
