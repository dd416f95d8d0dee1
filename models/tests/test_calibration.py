"""Calibration, the schema-free loader, the split and the fold server (stdlib unittest):

    cd models && uv run python -m unittest discover -s tests -v
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import numpy as np

from tft_models import calibration
from tft_models.dataset import load_features, make_split, meta_path
from tft_models.manifest import LSTM_STATE_FILE, check_bundle
from tft_models.synth import random_export

MODELS_DIR = Path(__file__).resolve().parents[1]


def brute_isotonic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The isotonic fit at the sorted distinct x by the min-max formula (slow, obviously right)."""
    ux = np.unique(x)
    means = np.array([y[x == v].mean() for v in ux])
    counts = np.array([(x == v).sum() for v in ux])
    n = len(ux)
    fit = np.empty(n)
    for i in range(n):
        fit[i] = max(min(np.average(means[a:b + 1], weights=counts[a:b + 1]) for b in range(i, n))
                     for a in range(0, i + 1))
    return fit


class Isotonic(unittest.TestCase):
    def test_pav_equals_the_min_max_formula(self):
        rng = np.random.default_rng(1)
        x = np.round(rng.random(200), 2)  # ties
        y = (rng.random(200) < x).astype(float)
        bx, by, bw = calibration.pav(x, y)
        want = brute_isotonic(x, y)
        self.assertEqual(bw.sum(), 200)
        self.assertTrue((np.diff(bx) > 0).all() and (np.diff(by) > 0).all())
        # The blocks' values are the fit's distinct values, each over as many rows.
        ux = np.unique(x)
        counts = np.array([(x == v).sum() for v in ux])
        levels = np.unique(np.round(want, 12))
        np.testing.assert_allclose(levels, by, atol=1e-12)
        for level, w in zip(levels, bw):
            self.assertEqual(counts[np.abs(want - level) < 1e-9].sum(), w)

    def test_slopes_are_bounded_and_the_map_is_monotone(self):
        rng = np.random.default_rng(2)
        p = rng.random(5000)
        y = rng.random(5000) < p ** 2
        m = calibration.fit_class(p, y)
        x, v = np.array(m["x"]), np.array(m["y"])
        self.assertTrue((np.diff(x) > 0).all() and (np.diff(v) >= 0).all())
        self.assertTrue((np.diff(v) / np.diff(x) <= calibration.MAX_SLOPE + 1e-9).all())
        # It learned p -> p^2 roughly: far from the identity.
        self.assertLess(abs(np.interp(0.5, x, v) - 0.25), 0.06)

    def test_apply_is_interp_then_renormalised(self):
        maps = [{"x": [0.0, 1.0], "y": [0.0, 0.5]}, {"x": [0.2, 0.8], "y": [0.1, 0.9]},
                {"x": [0.5], "y": [0.3]}]
        p = np.array([[0.4, 0.4, 0.2], [0.0, 1.0, 0.0]])
        c = calibration.apply(maps, p)
        raw = np.array([[0.2, np.interp(0.4, [0.2, 0.8], [0.1, 0.9]), 0.3], [0.0, 0.9, 0.3]])
        np.testing.assert_allclose(c, raw / raw.sum(axis=1, keepdims=True), rtol=0, atol=1e-15)
        self.assertFalse(calibration.is_identity(maps))
        np.testing.assert_array_equal(calibration.apply(None, p), p)


class LoaderAndSplit(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.csv = random_export(Path(self.tmp.name) / "features.csv", tickers=4, days=300)

    def tearDown(self):
        self.tmp.cleanup()

    def test_names_and_hash_come_from_the_export(self):
        t = load_features(self.csv)
        self.assertEqual(t.feature_names, [f"f{i}" for i in range(5)])
        self.assertEqual(t.x.shape, (1200, 5))
        self.assertTrue(t.has_trades)
        self.assertEqual(set(t.exit_reason[t.label >= 0]), {"stop", "timeout", "target"})

    def test_a_meta_hash_that_does_not_match_the_names_is_refused(self):
        meta = json.loads(meta_path(self.csv).read_text())
        meta["schema_hash"] = "0" * 16
        meta_path(self.csv).write_text(json.dumps(meta))
        with self.assertRaisesRegex(ValueError, "FNV hash"):
            load_features(self.csv)

    def test_the_old_format_loads_without_trades(self):
        lines = self.csv.read_text().splitlines()
        old = "\n".join(",".join(line.split(",")[:-4]) for line in lines) + "\n"
        self.csv.write_text(old)
        t = load_features(self.csv)
        self.assertFalse(t.has_trades)
        self.assertEqual((t.label >= 0).sum(), 4 * 293)

    def test_a_purge_shorter_than_the_horizon_or_the_gap_is_refused(self):
        t = load_features(self.csv)
        with self.assertRaisesRegex(ValueError, "label horizon"):
            make_split(t, "2019-01-01", "2019-06-28", "2019-07-15", "2019-10-01", purge_days=5)
        with self.assertRaisesRegex(ValueError, "purge gap"):
            make_split(t, "2019-01-01", "2019-06-28", "2019-07-08", "2019-10-01", purge_days=10)
        s = make_split(t, "2019-01-01", "2019-06-28", "2019-07-15", "2019-10-01", purge_days=10)
        self.assertEqual(s.purge_trading_days, 10)
        self.assertEqual(s.labels_read_to, "2019-10-10")


class FoldServer(unittest.TestCase):
    """The protocol end to end on a synthetic export: a bad request answers an error, a good
    one a verified bundle, a warm start reads its state, EOF exits 0, stdout is JSON only."""

    def test_requests_and_responses(self):
        with tempfile.TemporaryDirectory() as tmp:
            csv = random_export(Path(tmp) / "f.csv", tickers=6, days=400)
            params = {"xgb_rounds": 3, "lgb_rounds": 3, "lstm_epochs": 1, "lstm_samples": 512,
                      "max_train_rows": 0}
            dates = {"train_from": "2019-01-01", "train_to": "2019-09-30",
                     "calibrate_from": "2019-10-15", "calibrate_to": "2020-04-30"}
            reqs = [
                {"id": "bad", "out": "rel", **dates, "warm_start": None, "params": params},
                {"id": "a", "out": f"{tmp}/a", **dates, "warm_start": None, "params": params},
                {"id": "b", "out": f"{tmp}/b", **dates, "warm_start": f"{tmp}/a", "params": params},
                {"id": "a2", "out": f"{tmp}/a2", **dates, "warm_start": None, "params": params},
            ]
            proc = subprocess.run([sys.executable, "-m", "tft_models.folds", "--features", str(csv)],
                                  input="".join(json.dumps(r) + "\n" for r in reqs), text=True,
                                  capture_output=True, cwd=MODELS_DIR, timeout=600)
            self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
            resp = [json.loads(line) for line in proc.stdout.splitlines()]
            self.assertEqual([r["id"] for r in resp], ["bad", "a", "b", "a2"])
            self.assertFalse(resp[0]["ok"])
            self.assertIn("absolute", resp[0]["error"])
            for r in resp[1:]:
                self.assertTrue(r["ok"], r)
                m = check_bundle(Path(r["dir"]))
                self.assertEqual(m["version"], r["version"])
                self.assertIn("macro_f1", r["metrics"]["ensemble"])
                self.assertIn("lstm", r["seconds"])
                self.assertTrue((Path(r["dir"]) / LSTM_STATE_FILE).exists())
                self.assertIn("timeout", m["expected_returns"])
            # Fixed seeds: the same request writes the same files.
            self.assertEqual(resp[1]["version"], resp[3]["version"])
            for f in ("manifest.json", "golden.json", LSTM_STATE_FILE):
                self.assertEqual((Path(tmp) / "a" / f).read_bytes(), (Path(tmp) / "a2" / f).read_bytes(), f)
            self.assertNotEqual(resp[1]["version"], resp[2]["version"])
            warm = json.loads((Path(tmp) / "b" / "manifest.json").read_text())
            self.assertEqual(warm["training"]["lstm"]["warm_start"], f"{tmp}/a")


if __name__ == "__main__":
    unittest.main()
