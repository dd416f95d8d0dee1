"""Design choices on development folds only (2014-2019): which features, which gate.

    uv run python -m tft_models.research --features dev.csv --out research.json \
        [--dev-from 2017-01-01 --dev-to 2019-12-18 --train-years 3 --retrain-weeks 26]

Walk-forward inside the development years, trees only (LightGBM, the issue allows it for
the ablation): for each fold, LightGBM is trained on `train_years` of rows before the
fold, calibrated (the same isotonic maps the bundles ship, `calibration.py`) on the ~3
months before the fold with a purge of `purge_days` trading days on both sides, and
scored on the fold's rows. Every row carries the realised net return of the trade the
system would place (the exported label columns), so a gate is judged by what its picks
earned, costs included, before any portfolio simulation:

- `ev`: expected net return from the calibrated probabilities and the row's own stop and
  target (`shared/src/core/risk/gate.rs`, same formula), the time-out return estimated on
  the calibration slice;
- for each minimum expected return: rows passing per day, their mean net return;
- the best `k` per day (the portfolio's free slots are at most 5): mean net return, and
  the same for `k` random rows per day (200 seeds; the 95th percentile is "chance");
- the daily rank correlation (Spearman) of `ev` with the realised return.

Rows whose label reads a bar after `--dev-to` + 7 trading days are never used, and no
row after 2019-12-31 is read at all: the 2020-2021 test period stays untouched.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

from tft_models import calibration
from tft_models.dataset import load_features

SEED = 42
THREADS = 2
DEV_END = np.datetime64("2019-12-31")
COST = 0.002  # round trip, 5 + 5 bps a side

# Schema v1's 31 features: the baseline of the ablation.
V1 = [
    "indicators_ready", "sma_200_ready", "rsi_14", "rsi_oversold", "rsi_overbought",
    "macd_hist_norm", "macd_crossover", "macd_crossunder", "sma_gap", "sma_50_over_200",
    "sma_crossover", "bb_position", "bb_breakout", "volume_ratio", "volume_spike",
    "volume_zscore_20", "return_1d", "return_5d", "return_10d", "return_20d", "volatility_20d",
    "has_mentions", "mention_count", "mention_count_log", "conviction", "sentiment_score",
    "sentiment_weighted", "bullish_share", "sentiment_ma_5", "sentiment_trend", "mention_trend",
]


def folds(days: np.ndarray, dev_from, dev_to, train_years: int, retrain_weeks: int,
          calib_days: int, purge: int):
    """(train_from, train_to, cal_from, cal_to, trade_from, trade_to) as trading-day
    indices into `days` (sorted unique dates)."""
    out = []
    start = np.searchsorted(days, dev_from)
    end = np.searchsorted(days, dev_to, side="right") - 1
    step = retrain_weeks * 5
    k = start
    while k <= end:
        trade_to = min(k + step - 1, end)
        cal_to = k - purge - 1
        cal_from = cal_to - calib_days + 1
        train_to = cal_from - purge - 1
        train_from_date = days[k] - np.timedelta64(int(365.25 * train_years), "D")
        train_from = np.searchsorted(days, train_from_date)
        if train_from >= train_to:
            raise SystemExit(f"fold at {days[k]}: no training days")
        out.append((train_from, train_to, cal_from, cal_to, k, trade_to))
        k = trade_to + 1
    return out


def train(x, y, rounds: int, leaves: int, lr: float, min_child: int):
    params = {"objective": "multiclass", "num_class": 3, "num_leaves": leaves,
              "learning_rate": lr, "min_data_in_leaf": min_child, "feature_fraction": 0.8,
              "bagging_fraction": 0.8, "bagging_freq": 1, "seed": SEED,
              "deterministic": True, "force_row_wise": True, "num_threads": THREADS,
              "verbose": -1}
    return lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=rounds)


def expected_return(p: np.ndarray, stop: np.ndarray, target: np.ndarray, timeout: float):
    return p[:, 2] * (target - COST) - p[:, 0] * (stop + COST) + p[:, 1] * timeout


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3:
        return np.nan
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    ra -= ra.mean()
    rb -= rb.mean()
    d = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / d) if d > 0 else np.nan


def evaluate(dates, ev, ret, thresholds, ks, seeds: int):
    """Metrics of a gate over the concatenated fold rows."""
    udays, inv = np.unique(dates, return_inverse=True)
    order = np.lexsort((-ev, inv))  # per day, best ev first
    inv_o, ev_o, ret_o = inv[order], ev[order], ret[order]
    first = np.searchsorted(inv_o, np.arange(len(udays)))
    rank = np.arange(len(order)) - first[inv_o]
    out = {"rows": int(len(ret)), "days": int(len(udays)),
           "mean_net_return_all_rows": float(ret.mean())}
    gates = {}
    for th in thresholds:
        sel = (ev > th) & np.isfinite(ev)
        g = {"rows": int(sel.sum()), "rows_per_day": float(sel.sum() / len(udays)),
             "mean_net_return": float(ret[sel].mean()) if sel.any() else None}
        for k in ks:
            pick = (rank < k) & (ev_o > th) & np.isfinite(ev_o)
            g[f"top{k}_trades"] = int(pick.sum())
            g[f"top{k}_mean_net_return"] = float(ret_o[pick].mean()) if pick.any() else None
        gates[str(th)] = g
    out["gates"] = gates
    rng = np.random.default_rng(SEED)
    counts = np.bincount(inv, minlength=len(udays))
    rand = {}
    for k in (ks if seeds > 0 else []):
        means = []
        for _ in range(seeds):
            key = rng.random(len(ret))
            o = np.lexsort((key, inv))
            r = np.arange(len(o)) - first[inv[o]]
            means.append(ret[o][r < k].mean())
        means = np.array(means)
        rand[f"top{k}"] = {"mean": float(means.mean()), "p95": float(np.percentile(means, 95)),
                           "p5": float(np.percentile(means, 5))}
    out["random"] = rand
    ics = [spearman(ev[inv == d], ret[inv == d]) for d in range(len(udays)) if counts[d] >= 10]
    ics = np.array([v for v in ics if np.isfinite(v)])
    out["rank_ic_mean"] = float(ics.mean()) if len(ics) else None
    out["rank_ic_t"] = float(ics.mean() / ics.std() * np.sqrt(len(ics))) if len(ics) > 1 else None
    return out


def run_config(table, name: str, features: list[str], days, fold_list, args) -> dict:
    cols = [table.feature_names.index(f) for f in features]
    x_all = table.x[:, cols]
    d = table.dates
    ok = (table.label >= 0) & np.isfinite(table.net_return) & (d <= DEV_END)
    day_idx = np.searchsorted(days, d)
    parts = {"dates": [], "ev": [], "ret": [], "pt": [], "y": [], "raw": [], "cal": []}
    fold_info = []
    t0 = time.perf_counter()
    for (a, b, c, e, f, g) in fold_list:
        tr = np.flatnonzero(ok & (day_idx >= a) & (day_idx <= b))
        ca = np.flatnonzero(ok & (day_idx >= c) & (day_idx <= e))
        te = np.flatnonzero(ok & (day_idx >= f) & (day_idx <= g))
        model = train(x_all[tr], table.label[tr], args.rounds, args.leaves, args.lr, args.min_child)
        p_cal = model.predict(x_all[ca])
        maps = calibration.fit_model(p_cal, table.label[ca])
        timeout_rows = ca[table.label[ca] == 1]
        timeout = float(table.net_return[timeout_rows].mean()) if len(timeout_rows) else 0.0
        raw = model.predict(x_all[te])
        cal = calibration.apply(maps, raw)
        ev = expected_return(cal, table.stop_pct[te], table.target_pct[te], timeout)
        parts["dates"].append(d[te])
        parts["ev"].append(ev)
        parts["ret"].append(table.net_return[te])
        parts["pt"].append(cal[:, 2])
        parts["y"].append(table.label[te])
        parts["raw"].append(raw)
        parts["cal"].append(cal)
        fold_info.append({"train": [str(days[a]), str(days[b])], "calibrate": [str(days[c]), str(days[e])],
                          "trade": [str(days[f]), str(days[g])], "train_rows": int(len(tr)),
                          "calibrate_rows": int(len(ca)), "trade_rows": int(len(te)),
                          "timeout_return": round(timeout, 6)})
        print(f"  {name}: fold {days[f]}..{days[g]} train {len(tr)} cal {len(ca)} trade {len(te)} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    res = evaluate(cat["dates"], cat["ev"], cat["ret"], args.thresholds, args.ks, args.seeds)
    # Other orders of the same gate's candidates (the portfolio takes the best few a day).
    cal_all = cat["cal"]
    rankings = {"p_target": cal_all[:, 2], "p_target_minus_stop": cal_all[:, 2] - cal_all[:, 0],
                "neg_p_stop": -cal_all[:, 0], "ev": cat["ev"]}
    res["rankings"] = {}
    for rname, key in rankings.items():
        for th in (0.0, 0.001):
            sub = cat["ev"] > th
            ev_like = np.where(sub, key, -np.inf)
            r = evaluate(cat["dates"], ev_like, cat["ret"], [-np.inf], [1, 5], 0)
            g = r["gates"][str(-np.inf)]
            res["rankings"][f"{rname}|ev>{th}"] = {
                "top1": g["top1_mean_net_return"], "top5": g["top5_mean_net_return"],
                "ic": r["rank_ic_mean"]}
    res["brier_raw"] = calibration.brier(cat["y"], cat["raw"])
    res["brier_calibrated"] = calibration.brier(cat["y"], cat["cal"])
    res["reliability_target"] = calibration.reliability(cat["y"], cat["cal"])["buy"]
    res["p_target_max"] = float(cat["pt"].max())
    res["p_max_over_0_70"] = int((cat["cal"].max(axis=1)[cat["cal"].argmax(axis=1) == 2] > 0.70).sum())
    res["class_share"] = [float((cat["y"] == k).mean()) for k in range(3)]
    res["features"] = len(features)
    res["folds"] = fold_info
    res["seconds"] = round(time.perf_counter() - t0, 1)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--features", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dev-from", default="2017-01-01")
    ap.add_argument("--dev-to", default="2019-12-18")
    ap.add_argument("--train-years", type=int, default=3)
    ap.add_argument("--retrain-weeks", type=int, default=26)
    ap.add_argument("--calibrate-days", type=int, default=63)
    ap.add_argument("--purge-days", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=150)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--min-child", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--configs", default="all",
                    help="comma list of feature sets: v1, all, all-minus-<group>, or 'ablation'")
    args = ap.parse_args(argv)
    args.thresholds = [-1.0, 0.0, 0.001, 0.0025, 0.005, 0.01]
    args.ks = [1, 5]
    table = load_features(args.features)
    if (table.dates > DEV_END).any():
        keep = table.dates <= DEV_END
        print(f"ignoring {int((~keep).sum())} rows after {DEV_END} (the test period)")
    days = np.unique(table.dates[table.dates <= DEV_END])
    fold_list = folds(days, np.datetime64(args.dev_from), np.datetime64(args.dev_to),
                      args.train_years, args.retrain_weeks, args.calibrate_days, args.purge_days)
    names = table.feature_names
    groups = feature_groups(names)
    configs = {}
    wanted = args.configs.split(",")
    if wanted == ["ablation"]:
        wanted = ["v1", "all"] + [f"all-minus-{g}" for g in groups if g != "v1"] + \
                 [f"v1-plus-{g}" for g in groups if g != "v1"]
    for w in wanted:
        if w == "all":
            configs[w] = list(names)
        elif w == "v1":
            configs[w] = [n for n in names if n in V1]
        elif w.startswith("all-minus-"):
            g = w[len("all-minus-"):]
            configs[w] = [n for n in names if n not in groups[g]]
        elif w.startswith("v1-plus-"):
            g = w[len("v1-plus-"):]
            configs[w] = [n for n in names if n in V1 or n in groups[g]]
        else:
            raise SystemExit(f"unknown config {w}")
    print(f"{len(fold_list)} folds, {len(configs)} configurations; groups: "
          + ", ".join(f"{g} {len(v)}" for g, v in groups.items()), flush=True)
    results = {"protocol": {k: (v if not isinstance(v, Path) else str(v)) for k, v in vars(args).items()},
               "feature_groups": groups, "configs_tried": len(configs), "results": {}}
    for name, feats in configs.items():
        results["results"][name] = run_config(table, name, feats, days, fold_list, args)
        args.out.write_text(json.dumps(results, indent=1, default=float) + "\n")
    summary(results)


def feature_groups(names: list[str]) -> dict[str, list[str]]:
    """v1, then the schema v2 blocks by name (docs/features.md)."""
    groups: dict[str, list[str]] = {"v1": [n for n in names if n in V1]}
    for n in names:
        if n in V1:
            continue
        if n.startswith(("xs_", "rank_", "z_")) or n.endswith(("_rank", "_z", "_pct_rank")):
            g = "cross_section"
        elif n.startswith(("spy_", "market_", "regime_", "breadth", "excess_")):
            g = "regime"
        elif n.startswith("sector"):
            g = "sector"
        else:
            g = "candles"
        groups.setdefault(g, []).append(n)
    return groups


def summary(results: dict) -> None:
    print(f"{'config':28s} {'feat':>4s} {'IC':>7s} {'IC t':>6s} {'all':>7s} "
          f"{'ev>0 n/d':>8s} {'ev>0':>7s} {'top5 ev>0':>9s} {'top1':>7s} {'rand5 p95':>9s}")
    for name, r in results["results"].items():
        g = r["gates"]["0.0"]
        gall = r["gates"]["-1.0"]
        print(f"{name:28s} {r['features']:4d} {r['rank_ic_mean'] or 0:7.4f} {r['rank_ic_t'] or 0:6.2f} "
              f"{r['mean_net_return_all_rows'] * 100:6.3f}% {g['rows_per_day']:8.2f} "
              f"{(g['mean_net_return'] or 0) * 100:6.3f}% {(g['top5_mean_net_return'] or 0) * 100:8.3f}% "
              f"{(gall['top1_mean_net_return'] or 0) * 100:6.3f}% {r['random']['top5']['p95'] * 100:8.3f}%")


if __name__ == "__main__":
    main()
