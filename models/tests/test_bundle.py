"""Checks of the committed bundle and the LSTM export, no Rust needed (stdlib unittest):

    cd models && uv run python -m unittest discover -s tests -v
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import unittest
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from tft_models import calibration, lstm, lstm_onnx
from tft_models.dataset import CLASSES
from tft_models.schema import schema_hash
from tft_models.manifest import WEIGHTS, check_bundle, dumps

STORE = Path(__file__).resolve().parents[1] / "store" / "ensemble"
SCHEMA_RS = Path(__file__).resolve().parents[2] / "shared" / "src" / "core" / "features" / "schema.rs"


def rust_schema_hash() -> str:
    """The hash the Rust feature schema pins in its own test (`FEATURE_SCHEMA.hash()`), read
    from the source so that this check follows a schema change instead of going stale."""
    m = re.search(r'assert_eq!\(FEATURE_SCHEMA\.hash\(\), "([0-9a-f]{16})"\)', SCHEMA_RS.read_text())
    assert m, f"no pinned FEATURE_SCHEMA hash in {SCHEMA_RS}"
    return m.group(1)


def committed_bundle() -> Path:
    return STORE / (STORE / "current").read_text().strip()


class CommittedBundle(unittest.TestCase):
    def test_manifest_matches_the_rust_manifest_and_round_trips(self):
        d = committed_bundle()
        m = check_bundle(d)
        self.assertEqual(m["version"], d.name)
        self.assertEqual(m["feature_schema"]["hash"], rust_schema_hash())
        self.assertEqual(json.loads(dumps(m)), m)
        self.assertEqual((d / "manifest.json").read_text(), dumps(m))

    def test_a_corrupt_file_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "bundle"
            shutil.copytree(committed_bundle(), copy)
            data = bytearray((copy / "xgboost.onnx").read_bytes())
            data[-1] ^= 1
            (copy / "xgboost.onnx").write_bytes(bytes(data))
            with self.assertRaisesRegex(ValueError, "xgboost.onnx: sha256"):
                check_bundle(copy)

    def test_a_wrong_schema_hash_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "bundle"
            shutil.copytree(committed_bundle(), copy)
            m = json.loads((copy / "manifest.json").read_text())
            m["feature_schema"]["hash"] = "0000000000000000"
            (copy / "manifest.json").write_text(dumps(m))
            with self.assertRaisesRegex(ValueError, "feature schema"):
                check_bundle(copy)

    def test_golden_outputs_are_what_onnxruntime_gives_for_the_golden_inputs(self):
        d = committed_bundle()
        g = json.loads((d / "golden.json").read_text())
        m = json.loads((d / "manifest.json").read_text())
        fs = m["feature_schema"]
        self.assertEqual(g["schema_hash"], schema_hash(fs["version"], fs["names"]))
        self.assertEqual(g["feature_names"], fs["names"])
        self.assertEqual(g["classes"], CLASSES)
        seqs = np.array(g["sequences"], dtype=np.float32)
        self.assertEqual(seqs.shape, (len(g["rows"]), g["seq_len"], len(fs["names"])))
        self.assertGreaterEqual(len(g["rows"]), 16)
        self.assertGreaterEqual(len({r["ticker"] for r in g["rows"]}), 8)
        raw = {
            "lstm": ort.InferenceSession(str(d / "lstm.onnx")).run(None, {"features": seqs})[0],
            "xgboost": ort.InferenceSession(str(d / "xgboost.onnx")).run(
                ["probabilities"], {"input": seqs[:, -1]})[0],
            "lightgbm": ort.InferenceSession(str(d / "lightgbm.onnx")).run(
                ["probabilities"], {"input": seqs[:, -1]})[0],
        }
        # Raw: what onnxruntime gives. Calibrated: the manifest's maps applied to it, the
        # values Rust must reproduce (ensemble/tests/parity.rs).
        maps = m["calibration"]["models"]
        cal = {n: calibration.apply(maps[n], p.astype(np.float64)) for n, p in raw.items()}
        for kind, probs in (("raw_outputs", raw), ("outputs", cal)):
            for name, p in probs.items():
                np.testing.assert_allclose(p, np.array(g[kind][name]), rtol=0, atol=1e-6,
                                           err_msg=f"{kind} {name}")
            ens = sum(WEIGHTS[n] * probs[n].astype(np.float64) for n in ("lstm", "xgboost", "lightgbm"))
            np.testing.assert_allclose(ens, np.array(g[kind]["ensemble"]), rtol=0, atol=1e-6,
                                       err_msg=f"{kind} ensemble")
        self.assertFalse(all(calibration.is_identity(maps[n]) for n in maps),
                         "the committed bundle's calibration should not be the identity")


class LstmExport(unittest.TestCase):
    def test_onnx_lstm_equals_the_jax_forward_on_a_random_model(self):
        rng = np.random.default_rng(7)
        params = lstm.init_params(3, 31)
        params = {k: {n: np.asarray(v) + rng.normal(0, 0.1, np.shape(v)).astype(np.float32)
                      for n, v in layer.items()} for k, layer in params.items()}
        x = rng.normal(0, 2, (300, 30, 31)).astype(np.float32)
        mean = rng.normal(0, 1, 31).astype(np.float32)
        std = rng.uniform(0.5, 2, 31).astype(np.float32)
        model = lstm_onnx.to_onnx(params, mean, std)
        onnx.checker.check_model(model, full_check=True)
        sess = ort.InferenceSession(model.SerializeToString())
        got = sess.run(None, {"features": x})[0]
        want = np.asarray(lstm.predict_proba(params, mean, std, x))
        self.assertLess(float(np.abs(got - want).max()), 1e-5)
        # The graph uses only what tract's LSTM supports.
        for node in model.graph.node:
            if node.op_type == "LSTM":
                self.assertEqual(len(node.input), 4)  # X, W, R, B: no sequence_lens, states, P
                attrs = {a.name for a in node.attribute}
                self.assertNotIn("activations", attrs)
                self.assertEqual(attrs, {"hidden_size", "direction", "layout"})


if __name__ == "__main__":
    unittest.main()
