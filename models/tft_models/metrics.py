"""Validation metrics of a probability output (float64 in the manifest, no NaN).

`buy_count_at_0_70` / `buy_precision_at_0_70`: rows with P(BUY) > 0.70 (the risk manager
trades BUY only above that confidence) and the share of them labelled BUY; the precision is
0 when no row passes (JSON has no NaN; read it with the count).
"""

from __future__ import annotations

import numpy as np

from tft_models.data import CLASSES

N_CLASSES = 3
BUY = 2
BUY_THRESHOLD = 0.70


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    p = np.asarray(p, dtype=np.float64)
    pred = p.argmax(axis=1)
    out: dict[str, float] = {"rows": float(len(y)), "accuracy": float((pred == y).mean())}
    f1s = []
    for k, name in enumerate(CLASSES):
        tp = float(((pred == k) & (y == k)).sum())
        precision = tp / max(float((pred == k).sum()), 1.0)
        recall = tp / max(float((y == k).sum()), 1.0)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        f1s.append(f1)
        low = name.lower()
        out[f"precision_{low}"], out[f"recall_{low}"], out[f"f1_{low}"] = precision, recall, f1
    out["macro_f1"] = float(np.mean(f1s))
    eps = 1e-12
    out["log_loss"] = float(-np.log(np.clip(p[np.arange(len(y)), y], eps, 1.0)).mean())
    sure = p[:, BUY] > BUY_THRESHOLD
    out["buy_count_at_0_70"] = float(sure.sum())
    out["buy_precision_at_0_70"] = float((y[sure] == BUY).mean()) if sure.any() else 0.0
    for t in (0.5, 0.6):
        s = p[:, BUY] > t
        out[f"buy_count_at_{t:.2f}".replace(".", "_")] = float(s.sum())
        out[f"buy_precision_at_{t:.2f}".replace(".", "_")] = float((y[s] == BUY).mean()) if s.any() else 0.0
    out["buy_base_rate"] = float((y == BUY).mean())
    return out
