"""The sequence model: 2 stacked LSTM layers (128 then 64 units) over a 30-day window of the
31 features, the last hidden state -> Dense(3) -> softmax. jax + optax, CPU.

Layout (this module's; lstm_onnx.py converts it to ONNX's):
- input `x` [batch, 30, 31] float32, oldest day first, normalised inside the model:
  `clip((x - mean) / std, -CLIP, CLIP)` with the training set's per-feature mean and std
  (std 1 where a feature is constant), so the ONNX file takes raw features.
- layer k: `z = x_t @ W + h_{t-1} @ U + b` with W [in, 4H], U [H, 4H], b [4H], the four
  gate blocks in the order i, f, g, o (input, forget, cell candidate, output):
  `c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)`, `h_t = sigmoid(o) * tanh(c_t)`,
  h_0 = c_0 = 0 (the ONNX LSTM operator's defaults: no peepholes, default activations).
"""

from __future__ import annotations

import io
import itertools
import time
import zipfile
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import optax

from tft_models.dataset import windows

HIDDEN = (128, 64)
N_CLASSES = 3
CLIP = 10.0  # normalised features beyond ±10 std (return spikes, mention bursts) are clipped


@dataclass
class LstmConfig:
    seed: int = 42
    epochs: int = 4
    batch_size: int = 256
    learning_rate: float = 1e-3
    grad_clip: float = 1.0
    # Consecutive days' windows overlap in 29 of 30 rows: each epoch uses a fresh random
    # subsample of the training rows (None: all of them).
    samples_per_epoch: int | None = 60_000


def normaliser(x_train_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x_train_rows.mean(axis=0, dtype=np.float64).astype(np.float32)
    std = x_train_rows.std(axis=0, dtype=np.float64).astype(np.float32)
    std = np.where(std > 1e-12, std, np.float32(1.0)).astype(np.float32)
    return mean, std


def init_params(seed: int, n_in: int) -> dict:
    key = jax.random.PRNGKey(seed)
    params = {}
    sizes = [n_in, *HIDDEN]
    glorot = jax.nn.initializers.glorot_uniform()
    ortho = jax.nn.initializers.orthogonal()
    for k, (fan_in, h) in enumerate(itertools.pairwise(sizes)):
        key, kw, ku = jax.random.split(key, 3)
        b = jnp.zeros(4 * h, jnp.float32).at[h:2 * h].set(1.0)  # forget-gate bias 1
        params[f"lstm{k}"] = {"W": glorot(kw, (fan_in, 4 * h), jnp.float32),
                              "U": ortho(ku, (h, 4 * h), jnp.float32), "b": b}
    key, kd = jax.random.split(key)
    params["dense"] = {"W": glorot(kd, (HIDDEN[-1], N_CLASSES), jnp.float32),
                       "b": jnp.zeros(N_CLASSES, jnp.float32)}
    return params


def _layer(p: dict, xs: jnp.ndarray) -> jnp.ndarray:
    """xs [T, B, in] -> hs [T, B, H]."""
    h_size = p["U"].shape[0]
    batch = xs.shape[1]
    xw = jnp.einsum("tbi,ig->tbg", xs, p["W"]) + p["b"]

    def step(carry, xw_t):
        h, c = carry
        z = xw_t + h @ p["U"]
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((batch, h_size), xs.dtype)
    _, hs = jax.lax.scan(step, (zeros, zeros), xw)
    return hs


def logits(params: dict, mean: jnp.ndarray, std: jnp.ndarray, x: jnp.ndarray) -> jnp.ndarray:
    x = jnp.clip((x - mean) / std, -CLIP, CLIP)
    hs = jnp.swapaxes(x, 0, 1)  # [T, B, F]
    for k in range(len(HIDDEN)):
        hs = _layer(params[f"lstm{k}"], hs)
    return hs[-1] @ params["dense"]["W"] + params["dense"]["b"]


@jax.jit
def predict_proba(params, mean, std, x):
    return jax.nn.softmax(logits(params, mean, std, x), axis=-1)


def predict(params: dict, mean: np.ndarray, std: np.ndarray, x_all: np.ndarray,
            rows: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """float32 probabilities [len(rows), 3] for the windows ending at `rows`."""
    out = []
    for s in range(0, len(rows), chunk):
        out.append(np.asarray(predict_proba(params, mean, std, windows(x_all, rows[s:s + chunk]))))
    return np.concatenate(out) if out else np.zeros((0, N_CLASSES), np.float32)


def train(x_all: np.ndarray, rows: np.ndarray, y: np.ndarray, class_weight: np.ndarray,
          mean: np.ndarray, std: np.ndarray, cfg: LstmConfig, log=print,
          monitor=None, init: dict | None = None) -> tuple[dict, dict]:
    """Fits on the windows ending at `rows` (labels `y`). Returns (params, info).
    `monitor(params) -> str`, if given, is logged after each epoch (information only: the
    epoch count is fixed, nothing is selected on it). `init`: start from these parameters
    (a warm start from a previous bundle) instead of the seeded initialisation."""
    if init is None:
        params = init_params(cfg.seed, x_all.shape[1])
    else:
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(a, jnp.float32), init)
    opt = optax.chain(optax.clip_by_global_norm(cfg.grad_clip), optax.adam(cfg.learning_rate))
    opt_state = opt.init(params)
    cw = jnp.asarray(class_weight, jnp.float32)
    mean_j, std_j = jnp.asarray(mean), jnp.asarray(std)

    @jax.jit
    def step(params, opt_state, xb, yb):
        def loss_fn(p):
            lp = jax.nn.log_softmax(logits(p, mean_j, std_j, xb), axis=-1)
            w = cw[yb]
            return -(w * jnp.take_along_axis(lp, yb[:, None], axis=1)[:, 0]).sum() / w.sum()

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(cfg.seed)
    n = len(rows)
    per_epoch = n if cfg.samples_per_epoch is None else min(n, cfg.samples_per_epoch)
    steps = max(1, per_epoch // cfg.batch_size)
    t0 = time.perf_counter()
    history = []
    for epoch in range(cfg.epochs):
        pick = rng.permutation(n)[: steps * cfg.batch_size]
        losses = []
        for s in range(steps):
            b = pick[s * cfg.batch_size:(s + 1) * cfg.batch_size]
            xb = windows(x_all, rows[b])
            params, opt_state, loss = step(params, opt_state, xb, jnp.asarray(y[b]))
            losses.append(float(loss))
        history.append(float(np.mean(losses)))
        seen = f", {monitor(params)}" if monitor else ""
        log(f"  lstm epoch {epoch + 1}/{cfg.epochs}: {steps} steps, loss {history[-1]:.4f}, "
            f"{time.perf_counter() - t0:.0f} s{seen}")
    info = {"steps_per_epoch": steps, "loss_per_epoch": history,
            "train_seconds": round(time.perf_counter() - t0, 1)}
    return jax.tree_util.tree_map(np.asarray, params), info


def save_state(path, params: dict, mean: np.ndarray, std: np.ndarray) -> None:
    """The LSTM's parameters and normaliser as an npz (the warm start of the next fold)."""
    arrays = {"mean": mean, "std": std,
              **{f"{layer}/{k}": np.asarray(v) for layer, p in params.items() for k, v in p.items()}}
    # A zip with fixed timestamps (np.savez stamps the current time): same model, same bytes.
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def load_state(path) -> tuple[dict, np.ndarray, np.ndarray]:
    with np.load(path) as z:
        params: dict = {}
        for key in z.files:
            if "/" in key:
                layer, k = key.split("/")
                params.setdefault(layer, {})[k] = z[key]
        return params, z["mean"], z["std"]
