"""The jax LSTM (tft_models.lstm) as an ONNX graph built with onnx.helper (no torch).

    features [batch, 30, 31] float32 (raw features, oldest day first)
      -> Sub(mean) -> Div(std) -> Clip(-10, 10)          normalisation inside the graph
      -> Transpose(1, 0, 2)                              [30, batch, 31]: LSTM layout 0
      -> LSTM(hidden 128) -> Y [30, 1, batch, 128] -> Squeeze(axis 1)
      -> LSTM(hidden 64)  -> Y_h [1, batch, 64]    -> Squeeze(axis 0)
      -> Gemm(W [64, 3], b [3]) -> Softmax(axis -1)
    probabilities [batch, 3] float32 (SELL, HOLD, BUY)

The LSTM nodes use only what tract's ONNX LSTM supports: forward direction, default
activations (sigmoid, tanh, tanh), no peepholes, no sequence_lens, no initial states (zeros),
bias input B = [Wb, Rb] with Rb = 0. `batch` is symbolic in the file; tract needs it
concrete and pins it itself.

Gate order: jax blocks are i, f, g, o along the 4H axis of W [in, 4H]; ONNX's W is
[1, 4H, in] with blocks i, o, f, c.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tft_models.lstm import CLIP, HIDDEN

OPSET = 17
INPUT = "features"
OUTPUT = "probabilities"


def _onnx_gates(m: np.ndarray, h: int) -> np.ndarray:
    """Reorders the 4H blocks of the last axis from jax's i, f, g, o to ONNX's i, o, f, c."""
    i, f, g, o = (m[..., k * h:(k + 1) * h] for k in range(4))
    return np.concatenate([i, o, f, g], axis=-1)


def to_onnx(params: dict, mean: np.ndarray, std: np.ndarray, seq_len: int = 30,
            batch: str | int = "batch") -> onnx.ModelProto:
    n_features = int(mean.shape[0])
    f32 = np.float32
    inits = [
        numpy_helper.from_array(mean.astype(f32), "norm_mean"),
        numpy_helper.from_array(std.astype(f32), "norm_std"),
        numpy_helper.from_array(np.array(-CLIP, f32), "clip_min"),
        numpy_helper.from_array(np.array(CLIP, f32), "clip_max"),
        numpy_helper.from_array(np.array([1], np.int64), "axis_1"),
        numpy_helper.from_array(np.array([0], np.int64), "axis_0"),
    ]
    nodes = [
        helper.make_node("Sub", [INPUT, "norm_mean"], ["centred"]),
        helper.make_node("Div", ["centred", "norm_std"], ["scaled"]),
        helper.make_node("Clip", ["scaled", "clip_min", "clip_max"], ["clipped"]),
        helper.make_node("Transpose", ["clipped"], ["x_seq"], perm=[1, 0, 2]),
    ]
    x = "x_seq"
    for k, h in enumerate(HIDDEN):
        p = params[f"lstm{k}"]
        w = _onnx_gates(np.asarray(p["W"], f32), h)  # [in, 4H]
        u = _onnx_gates(np.asarray(p["U"], f32), h)  # [H, 4H]
        b = _onnx_gates(np.asarray(p["b"], f32), h)  # [4H]
        inits += [
            numpy_helper.from_array(w.T[None].astype(f32), f"lstm{k}_W"),  # [1, 4H, in]
            numpy_helper.from_array(u.T[None].astype(f32), f"lstm{k}_R"),  # [1, 4H, H]
            numpy_helper.from_array(np.concatenate([b, np.zeros_like(b)])[None].astype(f32),
                                    f"lstm{k}_B"),  # [1, 8H]
        ]
        last = k == len(HIDDEN) - 1
        outputs = ["", f"lstm{k}_Y_h"] if last else [f"lstm{k}_Y"]
        nodes.append(helper.make_node("LSTM", [x, f"lstm{k}_W", f"lstm{k}_R", f"lstm{k}_B"],
                                      outputs, hidden_size=h, direction="forward", layout=0,
                                      name=f"lstm{k}"))
        if last:
            nodes.append(helper.make_node("Squeeze", [f"lstm{k}_Y_h", "axis_0"], ["h_last"]))
        else:
            nodes.append(helper.make_node("Squeeze", [f"lstm{k}_Y", "axis_1"], [f"lstm{k}_out"]))
            x = f"lstm{k}_out"
    d = params["dense"]
    inits += [numpy_helper.from_array(np.asarray(d["W"], f32), "dense_W"),
              numpy_helper.from_array(np.asarray(d["b"], f32), "dense_b")]
    nodes += [helper.make_node("Gemm", ["h_last", "dense_W", "dense_b"], ["logits"]),
              helper.make_node("Softmax", ["logits"], [OUTPUT], axis=-1)]
    graph = helper.make_graph(
        nodes, "tft_lstm",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [batch, seq_len, n_features])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, [batch, 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="tft_models.lstm_onnx")
    model.ir_version = 8
    model.doc_string = ("TFT Trader LSTM: features [batch, 30, 31] raw, normalised in-graph; "
                        "probabilities [batch, 3] SELL, HOLD, BUY")
    onnx.checker.check_model(model, full_check=True)
    return model
