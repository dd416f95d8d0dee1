#!/usr/bin/env bash
# Load benchmark of the query API (a benchmark, not a test; issue 12): p50/p99 latency and
# requests/s at 50 concurrent clients for /v1/signals and /v1/portfolio, with 10,000
# seeded signals, on loopback, with wrk (Debian's package).
#
#   infra/test-env.sh tools/bench/api_load.sh [TFT_BINARY] [SECONDS]
#
# Runs inside infra/test-env.sh (its PostgreSQL). Uses a release `tft` if given (default:
# target/release/tft). Every request is authenticated as in production: the key's hash
# is looked up and its last use and minute window updated in one statement (a write per
# request); the per-key rate is raised for the run (TFT_API_RATE_PER_MINUTE=100000).
set -euo pipefail
tft="${1:-target/release/tft}"
secs="${2:-20}"
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
: "${DATABASE_URL:?run inside infra/test-env.sh}"
db="bench_$(date +%s)"
admin_url="$DATABASE_URL"
psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null
url="${admin_url%/*}/$db?sslmode=disable"
export DATABASE_URL="$url" TFT_API_RATE_PER_MINUTE=100000
"$tft" migrate >/dev/null
psql "$url" -q <<'SQL'
INSERT INTO paper_portfolio (id, starting_equity, cash, commission_bps, slippage_bps) VALUES (1, 100000, 100000, 5, 5);
INSERT INTO trading_signals (signal_key, ticker, trading_date, signal, confidence, model_version, entry_price,
    stop_loss, target_price, shares, is_active, exit_price, exit_reason, closed_at, realized_pnl, generated_at)
SELECT 'bench:' || g, 'T' || (g % 400), DATE '2020-01-02' + (g % 700), 'BUY', 0.5 + (g % 40) / 100.0, 'v1',
       50 + g % 100, 48, 55, 10, false, 51, 'target', now(), 10, now() - g * interval '1 minute'
FROM generate_series(1, 10000) g;
ANALYZE;
SQL
key="$("$tft" api-keys create --name bench 2>/dev/null)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
RUST_LOG=warn "$tft" serve --addr "127.0.0.1:$port" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null && break; sleep 0.1; done
echo "== $(nproc) cores, $(psql "$url" -tAc 'SELECT count(*) FROM trading_signals') signals, wrk -t2 -c50 -d${secs}s"
for path in "/v1/signals" "/v1/portfolio"; do
  echo "== GET $path"
  wrk -t2 -c50 -d"${secs}s" --latency -H "Authorization: Bearer $key" "http://127.0.0.1:$port$path" \
    | grep -E "Requests/sec|Latency|50%|99%|Non-2xx|requests in"
done
