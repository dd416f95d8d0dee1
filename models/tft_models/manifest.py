"""The bundle's manifest.json and golden.json, and a Rust-free check that a bundle directory
matches what `ensemble::manifest::Manifest` (ensemble/src/manifest.rs) deserializes and the
store verifies: required fields and types, schema hash (of the manifest's own version and
names: the training code knows no feature list), class order, weights summing to 1, a model
file for every weight, every sha256, the calibration maps' shape, and the version name rule.

    uv run python -m tft_models.manifest DIR     # DIR = a bundle (manifest.json and its files)
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from datetime import date
from pathlib import Path

from tft_models.schema import schema_hash

CLASSES = ["SELL", "HOLD", "BUY"]

MODEL_FILES = {"lstm": "lstm.onnx", "xgboost": "xgboost.onnx", "lightgbm": "lightgbm.onnx"}
WEIGHTS = {"lstm": 0.3, "xgboost": 0.4, "lightgbm": 0.3}
GOLDEN_FILE = "golden.json"
# The LSTM's parameters and normaliser for the next fold's warm start; beside the bundle's
# files, not listed in the manifest, never served.
LSTM_STATE_FILE = "lstm_state.npz"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def models_digest(directory: Path, calibration_maps: dict | None = None) -> str:
    """sha256 over the three model files' bytes, concatenated in the order lstm, xgboost,
    lightgbm, then (when the bundle is calibrated) the calibration maps as compact JSON with
    sorted keys: the version's suffix is its first 8 hex digits. The same models calibrated
    differently are another version."""
    h = hashlib.sha256()
    for name in ("lstm", "xgboost", "lightgbm"):
        h.update((directory / MODEL_FILES[name]).read_bytes())
    if calibration_maps is not None:
        h.update(json.dumps(calibration_maps, sort_keys=True, separators=(",", ":")).encode())
    return h.hexdigest()


def version_name(valid_to: str, directory: Path, calibration_maps: dict | None = None) -> str:
    return f"{valid_to}-{models_digest(directory, calibration_maps)[:8]}"


def check_calibration(cal: dict, models: dict) -> None:
    """The shape ensemble/src/calibration.rs accepts: method isotonic, for each model three
    maps with the same number (>= 1) of finite knots, x strictly increasing, y in [0, 1]."""
    if cal.get("method") != "isotonic":
        raise ValueError(f"calibration.method {cal.get('method')!r} is not 'isotonic'")
    for name, maps in cal.get("models", {}).items():
        if name not in models:
            raise ValueError(f"calibration for {name} but no such model")
        if not isinstance(maps, list) or len(maps) != len(CLASSES):
            raise ValueError(f"calibration.models.{name} must hold {len(CLASSES)} maps")
        for k, m in enumerate(maps):
            x, y = m.get("x"), m.get("y")
            ok = (isinstance(x, list) and isinstance(y, list) and len(x) == len(y) >= 1
                  and all(isinstance(v, (int, float)) and math.isfinite(v) for v in [*x, *y])
                  and all(a < b for a, b in zip(x, x[1:])) and all(0.0 <= v <= 1.0 for v in y))
            if not ok:
                raise ValueError(f"calibration.models.{name}[{k}] is not a map of finite knots "
                                 "with increasing x and y in [0, 1]")


def dumps(obj) -> str:
    """The bundle's JSON style: stable key order as built, no NaN, newline at the end."""
    return json.dumps(obj, indent=1, allow_nan=False) + "\n"


_REQUIRED = {
    "version": str, "feature_schema": dict, "classes": list, "weights": dict,
    "training_window": dict, "validation_window": dict, "validation_metrics": dict,
    "models": dict, "golden": dict,
}


def check_bundle(directory: Path) -> dict:
    """Raises ValueError on the first problem; returns the parsed manifest."""
    m = json.loads((directory / "manifest.json").read_text())
    for key, typ in _REQUIRED.items():
        if not isinstance(m.get(key), typ):
            raise ValueError(f"manifest.{key} missing or not a {typ.__name__}")
    fs = m["feature_schema"]
    if not (isinstance(fs.get("version"), int) and fs["version"] >= 0):
        raise ValueError("feature_schema.version must be a u32")
    names = fs.get("names")
    if not (isinstance(names, list) and names and all(isinstance(n, str) for n in names)):
        raise ValueError("feature_schema.names must be a non-empty list of names")
    if fs.get("hash") != schema_hash(fs["version"], names):
        raise ValueError(f"feature schema {fs.get('hash')} is not the hash "
                         f"{schema_hash(fs['version'], names)} of its version and names")
    if m["classes"] != CLASSES:
        raise ValueError(f"classes {m['classes']} are not {CLASSES}")
    for window in ("training_window", "validation_window"):
        w = m[window]
        date.fromisoformat(w["from"]), date.fromisoformat(w["to"])  # chrono::NaiveDate
        if w["from"] > w["to"]:
            raise ValueError(f"{window} is empty")
    if m["training_window"]["to"] >= m["validation_window"]["from"]:
        raise ValueError("the training window must end before the validation window")
    weights = m["weights"]
    if any(not isinstance(v, (int, float)) or v < 0 for v in weights.values()):
        raise ValueError("weights must be non-negative numbers")
    if abs(sum(weights.values()) - 1.0) > 1e-9:
        raise ValueError(f"weights {weights} do not sum to 1")
    for name in weights:
        if name not in m["models"]:
            raise ValueError(f"weight for {name} but no model file")
    for model, metrics in m["validation_metrics"].items():
        for k, v in metrics.items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ValueError(f"validation_metrics.{model}.{k} is not a number")
    if "macro_f1" not in m["validation_metrics"].get("ensemble", {}):
        raise ValueError("validation_metrics.ensemble.macro_f1 missing (promotion needs it)")
    refs = [*m["models"].values(), m["golden"]]
    for ref in refs:
        if set(ref) < {"file", "sha256"}:
            raise ValueError(f"file reference {ref} lacks file/sha256")
        actual = sha256_file(directory / ref["file"])
        if actual != ref["sha256"].lower():
            raise ValueError(f"{ref['file']}: sha256 {actual}, manifest says {ref['sha256']}")
    cal = m.get("calibration")
    if cal is not None:
        check_calibration(cal, m["models"])
    er = m.get("expected_returns")
    if er is not None and not all(isinstance(er.get(k), (int, float)) for k in ("timeout", "target", "stop")):
        raise ValueError("expected_returns must hold numbers timeout, target and stop")
    expected = version_name(m["validation_window"]["to"], directory,
                            cal["models"] if cal is not None else None)
    if m["version"] != expected:
        raise ValueError(f"version {m['version']} but the files make {expected}")
    # Round trip: the JSON we would write back is the JSON we read.
    if json.loads(dumps(m)) != m:
        raise ValueError("manifest does not round-trip")
    return m


if __name__ == "__main__":
    for d in sys.argv[1:]:
        print(f"{d}: ok, version {check_bundle(Path(d))['version']}")
