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
# `infra/demo.sh --pipeline`: the services demo (a throwaway PostgreSQL, moto as the local
# AWS, recorded Yahoo responses replayed on localhost, then the real handlers through `tft`):
#   migrate -> scrape-prices for 2022-01-31 (TSLA, MSFT, NVDA + one unknown ticker)
#   -> the stored bars with indicators -> the prices.updated event on the bus
#   -> a re-run of the same day (changes nothing)
#   -> import real WSB comments (Nov-Dec 2021, bundled) -> build-features for 2021-11-10
#   -> tft sentiment on a few sentences.
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
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 infra/yahoo_replay.py --port "$port" &
replay=$!
trap 'kill $replay 2>/dev/null' EXIT
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

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
echo "== tft run build-features --date 2021-11-10   (what prices.updated triggers)"
"$tft" run build-features --date 2021-11-10 | grep -E '"(schema_hash|rows_inserted)"'
psql "$DATABASE_URL" -q -P pager=off -c "
  SELECT f.ticker, x.name AS feature, round(x.value::numeric, 4) AS value
  FROM features f JOIN feature_schemas s USING (schema_hash),
       unnest(s.names, f.feature_values) AS x(name, value)
  WHERE f.date = '2021-11-10'
    AND x.name IN ('rsi_14', 'macd_hist_norm', 'return_5d', 'volatility_20d',
                   'mention_count', 'sentiment_score', 'sentiment_ma_5', 'bullish_share')
  ORDER BY f.ticker, array_position(s.names, x.name)"
echo "== tft sentiment   (market mode; --plain is exactly Python vaderSentiment 3.3.2)"
printf '%s\n' 'GME to the moon 🚀🚀 diamond hands' 'Bought puts on $TSLA, this is going to crash' \
  'AAPL earnings were fine I guess' | "$tft" sentiment
