#!/usr/bin/env bash
# `make demo`: the backtest on bundled real data, no database, no cloud account, no Python.
#   tft backtest on data/sample (44 real tickers, 2019-2021 bars; real r/wallstreetbets
#   posts and comments of 2020-21) for 2020-01-13..2021-12-31 with the committed models
#   (models/store; the rule strategy when no bundle is committed), against SPY buy & hold,
#   with the rule strategy and each model alone as baselines, 100 random-entry seeds per
#   strategy, and every strategy again without the tickers outside the S&P 500 of 2020-08
#   (data/sample/manifest.csv). Prints the summary table and
#   the path of report.html (out/demo/). Debug build (the one `make test` builds too).
#
# `infra/demo.sh --pipeline` (`make demo-pipeline`): the whole daily chain on local services
# (a throwaway PostgreSQL and PgBouncer, moto as the local AWS, recorded Yahoo responses
# replayed on localhost by infra/yahoo_replay.py), the real handlers through `tft`:
#   migrate -> scrape-prices for 2022-01-31 (TSLA, MSFT, NVDA, the benchmark SPY + one unknown
#   ticker) -> the stored bars with indicators -> the prices.updated event on the bus
#   -> a re-run of the same day (changes nothing) -> import real WSB comments (Nov-Dec 2021)
#   -> tft sentiment on a few sentences
#   -> the evening chain on each trading day from 2021-11-01 (build-features -> predict with
#      the committed model -> generate-signals) until the first day whose run opens a BUY
#      (the rule is printed; when no day does, the demo shows the refusals and fails)
#   -> monitor-positions at 11:00 New York of the next session (--now), the quote replayed
#      for that time from the recorded daily bar: fills the entry at the open, checks exits
#   -> notify: signed webhooks into infra/webhook_receiver.py, which verifies each signature
#      (a wrong one fails the demo; e-mail is not configured: skipped)
#   -> a read key (tft api-keys create), then tft serve: the dashboard on what the chain
#      produced, at a printed URL until Ctrl-C. TFT_DEMO_SERVE=0 ends instead (scripts, CI).
#   Every step's failure fails the demo (set -e, and each step's output is checked).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--pipeline" ] && [ -z "${TFT_DEMO_INNER:-}" ]; then
  echo "== building tft"
  cargo build --quiet -p tft
  tft="${CARGO_TARGET_DIR:-target}/debug/tft"
  models=models/store
  if [ -f "$models/ensemble/current" ]; then
    strategy=ensemble
  else
    strategy=rules
    echo "== no committed model bundle in $models: backtesting the rule strategy"
  fi
  echo "== tft backtest --strategy $strategy, 2020-01-13..2021-12-31, bundled sample (data/sample)"
  start=$(date +%s)
  "$tft" backtest --prices data/sample/prices --posts data/sample/reddit/*.csv \
    --benchmark data/sample/benchmark/SPY.csv --from 2020-01-13 --to 2021-12-31 \
    --models "$models" --strategy "$strategy" --manifest data/sample/manifest.csv --out out/demo
  echo "== done in $(( $(date +%s) - start )) s; open out/demo/report.html in a browser"
  exit 0
fi

if [ -z "${TFT_DEMO_INNER:-}" ]; then
  echo "== building tft"
  cargo build --quiet -p tft
  TFT_DEMO_INNER=1 exec infra/test-env.sh "$0"
fi

tft="${CARGO_TARGET_DIR:-target}/debug/tft"
py="$(infra/python-tools.sh)/python"
started=$(date +%s)
work=$(mktemp -d)
replay="" receiver=""
cleanup() {
  [ -z "$replay" ] || kill "$replay" 2>/dev/null || true
  [ -z "$receiver" ] || kill "$receiver" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "demo: FAILED: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; fail "nothing listens on $1"; }
# json FILE EXPR: a Python expression over a handler's summary (d) in FILE, printed. The
# handlers also print their run metrics (CloudWatch EMF lines, with "_aws") on stdout.
cat >"$work/summary.py" <<'PY'
import json, sys
def summary(path):
    text, docs, at = open(path).read(), [], 0
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        doc, at = json.JSONDecoder().raw_decode(text, at)
        docs.append(doc)
    found = [d for d in docs if isinstance(d, dict) and "_aws" not in d]
    if not found:
        sys.exit(f"no summary in {path}: {text[:500]}")
    return found[-1]
PY
json() { PYTHONPATH="$work" python3 -c 'import sys; from summary import summary; d = summary(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"; }

port=$(free_port)
python3 infra/yahoo_replay.py --port "$port" &
replay=$!
wait_port "$port"
# The user's webhook: a local receiver that verifies every signature (infra/webhook_receiver.py).
hook_port=$(free_port)
export NOTIFY_WEBHOOK_SECRET="$(python3 -c 'import secrets; print("whsec_" + secrets.token_hex(16))')"
export NOTIFY_WEBHOOK_URL="http://127.0.0.1:$hook_port/tft" NOTIFY_WEBHOOK_ALLOW_HTTP=1
python3 infra/webhook_receiver.py --port "$hook_port" --log "$work/webhooks.jsonl" &
receiver=$!
wait_port "$hook_port"

export YAHOO_BASE_URL="http://127.0.0.1:$port" TFT_EVENT_BUS_NAME=tft-trader-demo
export TFT_WATCHLIST=TSLA,MSFT,NVDA,ZZZZZ TFT_INITIAL_HISTORY_DAYS=4000 RUST_LOG=warn
# The bus, and a queue that receives everything put on it, in moto.
"$py" - <<'PY'
import boto3, os
kw = dict(endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
events, sqs = boto3.client("events", **kw), boto3.client("sqs", **kw)
events.create_event_bus(Name="tft-trader-demo")
url = sqs.create_queue(QueueName="demo-events")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
events.put_rule(Name="all", EventBusName="tft-trader-demo", EventPattern='{"source":["tft.trader"]}')
events.put_targets(Rule="all", EventBusName="tft-trader-demo", Targets=[{"Id": "q", "Arn": arn}])
PY

echo "== tft migrate"
"$tft" migrate
echo "== tft run scrape-prices --date 2022-01-31   (the Lambda handler, locally)"
"$tft" run scrape-prices --date 2022-01-31
echo "== the last three stored days of each ticker"
psql "$DATABASE_URL" -q -P pager=off -c "
  SELECT ticker, date, round(close::numeric, 2) AS close, round(rsi::numeric, 1) AS rsi_14,
         round(macd::numeric, 3) AS macd, round(bb_upper::numeric, 2) AS bb_upper,
         round(sma_50::numeric, 2) AS sma_50, round(sma_200::numeric, 2) AS sma_200,
         round(volume_ratio::numeric, 2) AS vol_ratio
  FROM (SELECT *, row_number() OVER (PARTITION BY ticker ORDER BY date DESC) AS n FROM stock_prices) t
  WHERE n <= 3 ORDER BY ticker, date"
echo "== events on the bus"
"$py" - <<'PY'
import boto3, json, os
sqs = boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
url = sqs.get_queue_url(QueueName="demo-events")["QueueUrl"]
for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
    e = json.loads(m["Body"])
    print(e["detail-type"], json.dumps(e["detail"]))
PY
echo "== the same run again (EventBridge delivers at least once): nothing changes"
"$tft" run scrape-prices --date 2022-01-31 | grep -E '"rows_(inserted|updated)"'

echo "== tft import-reddit: real r/wallstreetbets comments of Nov-Dec 2021 (bundled, data/sample)"
"$tft" import-reddit data/sample/reddit/wsb_comments_2021-11_12.csv
echo "== tft sentiment   (market mode; --plain is exactly Python vaderSentiment 3.3.2)"
printf '%s\n' 'GME to the moon 🚀🚀 diamond hands' 'Bought puts on $TSLA, this is going to crash' \
  'AAPL earnings were fine I guess' | "$tft" sentiment

# ---- The evening chain, day after day, as the schedule would run it -------------------
# The rule for the demo's trading day, fixed before looking: from 2021-11-01 (the first day
# of the bundled comments) run the evening chain (build-features -> predict ->
# generate-signals) on each stored trading day up to 2021-12-30 (SPY's bars end 2021-12-31
# and an entry needs a next session), and stop at the first day whose run opens a BUY. The
# signal, if any, is the committed model's under the configured gate, never written here.
scan_from=2021-11-01 scan_to=2021-12-30
echo "== the evening chain, day by day from $scan_from: build-features -> predict -> generate-signals"
echo "   rule: the first trading day whose run opens a BUY (committed model models/store," \
  "entry gate ${TFT_ENTRY_GATE:-ev:0.001, the default})"
mapfile -t days < <(psql "$DATABASE_URL" -Atq -c "SELECT date FROM stock_prices
  WHERE ticker = 'MSFT' AND date BETWEEN '$scan_from' AND '$scan_to' ORDER BY date")
[ "${#days[@]}" -gt 30 ] || fail "only ${#days[@]} stored trading days in $scan_from..$scan_to"
chosen=""
for day in "${days[@]}"; do
  "$tft" run build-features --date "$day" >"$work/features.json"
  "$tft" run predict --date "$day" --models models/store >"$work/predict.json"
  "$tft" run generate-signals --date "$day" >"$work/signals.json"
  calls=$(psql "$DATABASE_URL" -Atq -F ' ' -c "SELECT string_agg(format('%s %s p(buy)=%s', ticker,
    signal, round(prob_buy::numeric, 2)), ', ' ORDER BY ticker) FROM predictions WHERE date = '$day'")
  [ -n "$calls" ] || fail "predict stored nothing for $day: $(cat "$work/predict.json")"
  opened=$(json "$work/signals.json" '", ".join(o["ticker"] for o in d["opened"])')
  refused=$(json "$work/signals.json" '"; ".join(r["ticker"] + ": " + ", ".join(r["rules"]) for r in d["refused"])')
  echo "   $day  $calls  | opened: ${opened:--}  refused: ${refused:--}"
  if [ -n "$opened" ]; then chosen=$day; break; fi
done
if [ -z "$chosen" ]; then
  echo "== no day from $scan_from to $scan_to opened a BUY with the committed model and this gate."
  echo "   That is the model's honest answer on these three tickers; nothing is made up here."
  echo "   Why (the rules that refused each candidate, as the dashboard's \"why no trade today\"):"
  psql "$DATABASE_URL" -q -P pager=off -c "SELECT trading_date, ticker, rule, reason
    FROM signal_rejections ORDER BY trading_date DESC, ticker LIMIT 12"
  fail "no signal to monitor and notify; try again with TFT_ENTRY_GATE=ev:0 (docs/risk.md, \"Entry gate\")"
fi
echo "== $chosen: the first day with a signal. Its features (a few of the 56), predictions and the plan"
psql "$DATABASE_URL" -q -P pager=off -c "
  SELECT f.ticker, x.name AS feature, round(x.value::numeric, 4) AS value
  FROM features f JOIN feature_schemas s USING (schema_hash),
       unnest(s.names, f.feature_values) AS x(name, value)
  WHERE f.date = '$chosen'
    AND x.name IN ('rsi_14', 'return_5d', 'volatility_20d', 'mention_count', 'sentiment_score',
                   'market_above_sma_200', 'regime_ready')
  ORDER BY f.ticker, array_position(s.names, x.name)"
psql "$DATABASE_URL" -q -P pager=off -c "
  SELECT ticker, signal, round(prob_sell::numeric, 3) AS p_sell, round(prob_hold::numeric, 3) AS p_hold,
         round(prob_buy::numeric, 3) AS p_buy, model_version
  FROM predictions WHERE date = '$chosen' ORDER BY ticker"
psql "$DATABASE_URL" -q -P pager=off -c "
  SELECT id, ticker, signal, round(entry_price::numeric, 2) AS entry, round(stop_loss::numeric, 2) AS stop,
         round(target_price::numeric, 2) AS target, round(confidence::numeric, 3) AS confidence
  FROM trading_signals WHERE trading_date = '$chosen' ORDER BY id"
echo "   The classes are the exits the trade would take (SELL = stop, HOLD = time-out, BUY ="
echo "   target). The deployed gate (ev:0.001, docs/risk.md \"Entry gate\") opens a trade when"
echo "   its expected net return, from all three probabilities, its stop and target, is above"
echo "   0.1 %, whatever the arg-max; the confidence shown is the calibrated P(target)."
echo "   Refused that day (why no trade for the others):"
psql "$DATABASE_URL" -q -P pager=off -c "SELECT ticker, rule, reason FROM signal_rejections
  WHERE trading_date = '$chosen' ORDER BY ticker, rule"

# ---- The next session: the 15-minute monitor at one simulated time --------------------
session=$(psql "$DATABASE_URL" -Atq -c "SELECT min(date) FROM stock_prices
  WHERE ticker = 'MSFT' AND date > '$chosen'")
now=$(python3 -c "import datetime as d, sys, zoneinfo
t = d.datetime.combine(d.date.fromisoformat(sys.argv[1]), d.time(11, 0), zoneinfo.ZoneInfo('America/New_York'))
print(t.astimezone(d.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))" "$session")
echo "== tft run monitor-positions --now $now   (11:00 New York on $session, the entry's session)"
echo "   the replayed quote is derived from the recorded daily bar of $session (no intraday"
echo "   recording exists): the open, then a straight line from the open to the close"
echo "   (infra/yahoo_replay.py says exactly how)"
python3 -c "import sys, urllib.request
print('  ', urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode())).read().decode().strip())" \
  "http://127.0.0.1:$port/_replay/clock" "$now"
"$tft" run monitor-positions --now "$now" >"$work/monitor.json"
PYTHONPATH="$work" python3 - "$work/monitor.json" <<'PY'
import sys
from summary import summary
d = summary(sys.argv[1])
print(f"   status: {d['status']}")
for f in d["filled"]:
    print(f"   filled {f['ticker']}: {f['shares']} shares at the open {f['open']:.2f} (paid "
          f"{f['fill_price']:.2f} with slippage); stop {f['stop_loss']:.2f}, target {f['target_price']:.2f}")
for c in d["closed"]:
    print(f"   closed {c['ticker']}: {c['exit_reason']} at {c['exit_price']:.2f}, P&L {c['realized_pnl']}")
for t in d["still_open"]:
    print(f"   checked, still open: {t}")
for x in d["failures"]:
    print(f"   not priced {x['ticker']}: {x['error']}")
PY
[ "$(json "$work/monitor.json" 'd["market_open"] and not d["failures"] and len(d["filled"]) + len(d["closed"]) > 0')" = True ] \
  || fail "the monitor did not fill or close anything: $(cat "$work/monitor.json")"

# ---- notify: the outbox into a local receiver that checks every signature -------------
echo "== tft run notify   (webhook to a local receiver, infra/webhook_receiver.py, which verifies"
echo "   X-TFT-Signature as docs/notifications.md says; http:// is allowed here only through the"
echo "   documented NOTIFY_WEBHOOK_ALLOW_HTTP=1; e-mail is not configured in the demo: skipped)"
"$tft" run notify >"$work/notify.json"
json "$work/notify.json" '"   notify: claimed %(claimed)s, sent %(sent)s, retried %(retried)s, given up %(given_up)s, skipped %(skipped)s (e-mail: not configured)" % d'
kill "$receiver"; receiver_status=0; wait "$receiver" || receiver_status=$?; receiver=""
verified=$(grep -c '"ok": true' "$work/webhooks.jsonl" || true)
sent=$(json "$work/notify.json" 'd["sent"]')
[ "$receiver_status" -eq 0 ] || fail "the webhook receiver refused a signature (see above)"
[ "$sent" -gt 0 ] && [ "$verified" -eq "$sent" ] \
  || fail "notify sent $sent webhook(s), the receiver verified $verified"
echo "   $verified webhook(s) delivered, every signature verified"

# ---- The dashboard on what the chain just produced ------------------------------------
echo "== tft api-keys create --name demo"
key=$("$tft" api-keys create --name demo)
echo "   key: $key"
if [ "${TFT_DEMO_SERVE:-1}" = 0 ]; then
  echo "== done in $(( $(date +%s) - started )) s (TFT_DEMO_SERVE=0: not serving the dashboard)"
  exit 0
fi
serve_port=${TFT_DEMO_PORT:-8080}
if (exec 3<>"/dev/tcp/127.0.0.1/$serve_port") 2>/dev/null; then serve_port=$(free_port); fi
echo "== done in $(( $(date +%s) - started )) s. tft serve: the API and the dashboard on this database"
echo
echo "   open  http://127.0.0.1:$serve_port/   and paste the key  $key"
echo "   (or: curl -H 'Authorization: Bearer $key' http://127.0.0.1:$serve_port/v1/portfolio)"
echo "   Ctrl-C stops it and removes the throwaway database."
echo
"$tft" serve --addr "127.0.0.1:$serve_port"
