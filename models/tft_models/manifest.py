"""The bundle's manifest.json and golden.json, and a Rust-free check that a bundle directory
matches what `ensemble::manifest::Manifest` (ensemble/src/manifest.rs) deserializes and the
store verifies: required fields and types, schema hash, class order, weights summing to 1,
a model file for every weight, every sha256, and the version name rule.

    uv run python -m tft_models.manifest DIR     # DIR = a bundle (manifest.json and its files)
"""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from pathlib import Path

from tft_models.data import CLASSES, FEATURE_NAMES, schema_hash

MODEL_FILES = {"lstm": "lstm.onnx", "xgboost": "xgboost.onnx", "lightgbm": "lightgbm.onnx"}
WEIGHTS = {"lstm": 0.3, "xgboost": 0.4, "lightgbm": 0.3}
GOLDEN_FILE = "golden.json"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def models_digest(directory: Path) -> str:
    """sha256 over the three model files' bytes, concatenated in the order lstm, xgboost,
    lightgbm: the version's suffix is its first 8 hex digits."""
    h = hashlib.sha256()
    for name in ("lstm", "xgboost", "lightgbm"):
        h.update((directory / MODEL_FILES[name]).read_bytes())
    return h.hexdigest()


def version_name(valid_to: str, directory: Path) -> str:
    return f"{valid_to}-{models_digest(directory)[:8]}"


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
    if fs.get("hash") != schema_hash(fs["version"], fs.get("names", [])) or fs.get("names") != FEATURE_NAMES:
        raise ValueError(f"feature schema {fs.get('hash')} is not {schema_hash()}")
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
    expected = version_name(m["validation_window"]["to"], directory)
    if m["version"] != expected:
        raise ValueError(f"version {m['version']} but the files make {expected}")
    # Round trip: the JSON we would write back is the JSON we read.
    if json.loads(dumps(m)) != m:
        raise ValueError("manifest does not round-trip")
    return m


if __name__ == "__main__":
    for d in sys.argv[1:]:
        print(f"{d}: ok, version {check_bundle(Path(d))['version']}")
