"""Probability calibration of each model on the calibration slice: one-vs-rest isotonic
regression per class, then the three calibrated values renormalised to sum 1.

A class's map is a list of knots `(x, y)` (x strictly increasing, y non-decreasing in
[0, 1]) applied as piecewise-linear interpolation clamped at the ends (`np.interp`
semantics; ensemble/src/calibration.rs does the same in Rust):

1. pool-adjacent-violators (PAV) on (raw p_k, 1[label == k]), unweighted (the calibrated
   value estimates the real frequency, whatever class weights the model trained with);
2. one knot per pooled block at its mean x and mean y (the block's frequency);
3. adjacent knots pooled further (weighted means) while a segment is steeper than
   `MAX_SLOPE`. Why: serving runs tract, whose raw outputs differ from onnxruntime's by up
   to ~3e-7 (docs/inference.md); a step of plain isotonic regression between two raw values
   1e-6 apart would turn that into a difference of up to the whole step, and the bundle
   could never pass the 1e-5 golden check. With slopes <= 10 the difference stays <= 3e-6.
   Pooling adjacent blocks of a non-decreasing sequence keeps it non-decreasing.

Renormalisation: c = (f_SELL(p_SELL), f_HOLD(p_HOLD), f_BUY(p_BUY)) / sum; a zero sum (no
class has positives at these raw values; not seen in practice) falls back to the raw p.
"""

from __future__ import annotations

import numpy as np

from tft_models.metrics import N_CLASSES

MAX_SLOPE = 10.0
RELIABILITY_BINS = 10


def pav(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blocks of the isotonic (non-decreasing) fit of y on x: (mean x, mean y, weight) per
    block, x increasing. Ties in x are pooled first (one value per distinct x)."""
    order = np.argsort(x, kind="stable")
    xs, ys = np.asarray(x, np.float64)[order], np.asarray(y, np.float64)[order]
    ux, start = np.unique(xs, return_index=True)
    w = np.diff(np.append(start, len(xs))).astype(np.float64)
    sy = np.add.reduceat(ys, start) if len(xs) else np.zeros(0)
    sx = ux * w
    # Stack of blocks: sums of x, y and weights.
    bx, by, bw = [], [], []
    for i in range(len(ux)):
        bx.append(sx[i]), by.append(sy[i]), bw.append(w[i])
        while len(bw) > 1 and by[-2] / bw[-2] >= by[-1] / bw[-1]:
            x1, y1, w1 = bx.pop(), by.pop(), bw.pop()
            bx[-1] += x1
            by[-1] += y1
            bw[-1] += w1
    bw_a = np.array(bw)
    return np.array(bx) / bw_a, np.array(by) / bw_a, bw_a


def _pool_steep(kx: np.ndarray, ky: np.ndarray, kw: np.ndarray, max_slope: float):
    kx, ky, kw = list(kx), list(ky), list(kw)
    while len(kx) > 1:
        slopes = [(ky[i + 1] - ky[i]) / (kx[i + 1] - kx[i]) for i in range(len(kx) - 1)]
        i = int(np.argmax(slopes))
        if slopes[i] <= max_slope:
            break
        w = kw[i] + kw[i + 1]
        kx[i] = (kx[i] * kw[i] + kx[i + 1] * kw[i + 1]) / w
        ky[i] = (ky[i] * kw[i] + ky[i + 1] * kw[i + 1]) / w
        kw[i] = w
        del kx[i + 1], ky[i + 1], kw[i + 1]
    return np.array(kx), np.array(ky)


def fit_class(p: np.ndarray, positive: np.ndarray, max_slope: float = MAX_SLOPE) -> dict:
    """Knots {"x": [...], "y": [...]} of one class's map."""
    bx, by, bw = pav(p, positive.astype(np.float64))
    kx, ky = _pool_steep(bx, by, bw, max_slope)
    # Knot x values must be strictly increasing for interpolation.
    assert len(kx) >= 1 and (np.diff(kx) > 0).all() and (np.diff(ky) >= -1e-15).all()
    return {"x": [float(v) for v in kx], "y": [float(v) for v in ky]}


def fit_model(p: np.ndarray, y: np.ndarray, max_slope: float = MAX_SLOPE) -> list[dict]:
    """One map per class (SELL, HOLD, BUY) from a model's raw probabilities on the slice."""
    return [fit_class(p[:, k], y == k, max_slope) for k in range(N_CLASSES)]


def apply(maps: list[dict] | None, p: np.ndarray) -> np.ndarray:
    """Calibrated probabilities [n, 3] (float64); `maps` None = identity (float64 of p)."""
    p = np.asarray(p, np.float64)
    if maps is None:
        return p.copy()
    c = np.stack([np.interp(p[:, k], np.asarray(m["x"]), np.asarray(m["y"]))
                  for k, m in enumerate(maps)], axis=1)
    s = c.sum(axis=1, keepdims=True)
    return np.where(s > 0, c / np.where(s > 0, s, 1.0), p)


def is_identity(maps: list[dict], tol: float = 1e-9) -> bool:
    probe = np.linspace(0, 1, 101)
    return all(np.abs(np.interp(probe, m["x"], m["y"]) - probe).max() < tol for m in maps)


def brier(y: np.ndarray, p: np.ndarray) -> float:
    onehot = np.eye(N_CLASSES)[y]
    return float(((np.asarray(p, np.float64) - onehot) ** 2).sum(axis=1).mean())


def reliability(y: np.ndarray, p: np.ndarray, bins: int = RELIABILITY_BINS) -> dict:
    """Per class, equal-width bins of the predicted probability: rows, mean predicted,
    observed frequency (non-empty bins only)."""
    out = {}
    for k, name in enumerate(("sell", "hold", "buy")):
        pk = np.asarray(p[:, k], np.float64)
        idx = np.minimum((pk * bins).astype(int), bins - 1)
        rows = []
        for b in range(bins):
            sel = idx == b
            if sel.any():
                rows.append({"from": b / bins, "to": (b + 1) / bins, "rows": int(sel.sum()),
                             "mean_p": round(float(pk[sel].mean()), 6),
                             "observed": round(float((y[sel] == k).mean()), 6)})
        out[name] = rows
    return out


def diagnostics(y: np.ndarray, raw: np.ndarray, calibrated: np.ndarray) -> dict:
    """Brier score (sum over classes, mean over rows) and reliability, before and after."""
    return {"before": {"brier": round(brier(y, raw), 6), "reliability": reliability(y, raw)},
            "after": {"brier": round(brier(y, calibrated), 6),
                      "reliability": reliability(y, calibrated)}}
