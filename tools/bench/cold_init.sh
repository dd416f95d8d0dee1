#!/usr/bin/env bash
# Benchmark (not a test), `make bench-cold-init`: each Lambda function's cold init, process
# start -> its first `GET /2018-06-01/runtime/invocation/next`, against a hello-world
# lambda_runtime binary (tools/cold-init, bin `hello`), in one run. Issue 13's goal: at most
# 2x hello-world apart from the time spent opening the database connection.
#
#   tools/bench/cold_init.sh [--runs N] [--no-build] [--json FILE] [FUNCTION...]
#
# FUNCTION: directory names under functions/ (default: all of them).
#
# 1. Builds the functions and the baseline for the host (x86_64), release profile (the one
#    `make build-lambdas` ships for arm64), under `nice`; CARGO_TARGET_DIR is honoured.
# 2. Under infra/test-env.sh (PostgreSQL, PgBouncer, moto): puts the secrets in moto and
#    gives every function the environment the template gives it in Lambda (secrets by ARN,
#    the pooled URL through PgBouncer, the bus name, the model bucket...), then
#    tools/cold-init's `measure` starts each binary N times (default 20) under a loopback
#    Runtime API emulator and prints median / p90 start->poll, the database connect time
#    each function logs at init (`db_connect_ms`, shared/src/jobs/init.rs), the secret
#    reads (`secrets_ms`), and the ratios to hello-world with and without them.
# Numbers and what they mean: docs/deploy.md, "Cold init".
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target_dir="${CARGO_TARGET_DIR:-$root/target}"

toml_package_name() { sed -n '/^\[package\]/,/^\[/s/^name *= *"\(.*\)"/\1/p' "$1" | head -n1; }
toml_bin_name() { sed -n '/^\[\[bin\]\]/,/^\[/s/^name *= *"\(.*\)"/\1/p' "$1" | head -n1; }

if [ "${1:-}" != "--inner" ]; then
  runs=20; build=1; json=""; only=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --runs) runs="$2"; shift 2 ;;
      --no-build) build=0; shift ;;
      --json) json="$2"; shift 2 ;;
      -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      -*) echo "cold_init: unknown argument $1" >&2; exit 2 ;;
      *) [ -f "functions/$1/Cargo.toml" ] || { echo "cold_init: no function $1" >&2; exit 2; }
         only+=("$1"); shift ;;
    esac
  done
  manifests=()
  if [ "${#only[@]}" -gt 0 ]; then
    for d in "${only[@]}"; do manifests+=("functions/$d/Cargo.toml"); done
  else
    manifests=(functions/*/Cargo.toml)
  fi
  if [ "$build" = 1 ]; then
    pkgs=(-p cold-init)
    for m in "${manifests[@]}"; do pkgs+=(-p "$(toml_package_name "$m")"); done
    echo "cold_init: nice cargo build --release ${pkgs[*]}" >&2
    nice -n 10 cargo build --release "${pkgs[@]}"
  fi
  exec infra/test-env.sh "$0" --inner "$runs" "$json" "${manifests[@]}"
fi

# --- Inside infra/test-env.sh: DATABASE_URL, PGBOUNCER_URL, AWS_ENDPOINT_URL (moto),
# dummy AWS credentials and TFT_TOOLS_BIN are set.
runs="$2"; json="$3"; shift 3
release="$target_dir/release"
work="$(mktemp -d "${TMPDIR:-/tmp}/tft-cold-init.XXXXXX")"
trap 'rm -rf "$work"' EXIT

functions=()
for m in "$@"; do
  d="$(basename "$(dirname "$m")")"
  bin="$(toml_bin_name "$m")"; bin="${bin:-$(toml_package_name "$m")}"
  [ -x "$release/$bin" ] || { echo "cold_init: $release/$bin is not built (run without --no-build)" >&2; exit 1; }
  functions+=("$d=$release/$bin")
done
[ -x "$release/hello" ] || { echo "cold_init: $release/hello is not built (run without --no-build)" >&2; exit 1; }

# The secrets and the bucket in moto, and each function's environment as the template
# gives it (template.yaml, Globals and each function's Environment).
"$TFT_TOOLS_BIN/python" - "$work/targets.json" "$release/hello" "${functions[@]}" <<'PY'
import json, os, sys, boto3

out, hello, *functions = sys.argv[1:]
endpoint = os.environ["AWS_ENDPOINT_URL"]
region = os.environ.get("AWS_REGION", "us-east-1")
sm = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=region)
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region)
def secret(name, value):
    return sm.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
pooled = secret("tft-bench-db-pooled", {"url": os.environ["PGBOUNCER_URL"]})
direct = secret("tft-bench-db-direct", {"url": os.environ["DATABASE_URL"]})
reddit = secret("tft-bench-reddit", {"client_id": "bench", "client_secret": "bench-secret"})
webhook = secret("tft-bench-webhook", {"webhook_secret": "bench-webhook-secret"})
bucket = "tft-bench-models"
s3.create_bucket(Bucket=bucket)

# What Lambda sets for every function (LoggingConfig: JSON, the INFO default).
lambda_env = {
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "AWS_LAMBDA_LOG_LEVEL": "INFO",
}
globals_env = {"DATABASE_URL_SECRET_ARN": pooled, "TFT_EVENT_BUS_NAME": "tft-trader-bench"}
models = {"TFT_MODEL_BUCKET": bucket, "TFT_MODEL_PREFIX": "models"}
own = {
    "scrape-prices": {"TFT_WATCHLIST": "AAPL,MSFT,NVDA,TSLA,AMD", "TFT_FETCH_CONCURRENCY": "4"},
    "predict": models,
    "scrape-reddit": {"TFT_SUBREDDITS": "wallstreetbets,stocks", "REDDIT_SECRET_ARN": reddit,
                      "REDDIT_USER_AGENT": "linux:tft-trader-bench:0.1 (by /u/bench)"},
    "generate-signals": {"TFT_STARTING_EQUITY": "100000"},
    "monitor-positions": {"TFT_FETCH_CONCURRENCY": "4"},
    "notify": {"NOTIFY_WEBHOOK_URL": "https://hooks.example.invalid/tft",
               "NOTIFY_WEBHOOK_SECRET_ARN": webhook, "NOTIFY_EMAIL_FROM": "tft@example.com",
               "NOTIFY_EMAIL_TO": "owner@example.com", "NOTIFY_EMAIL_TRANSPORT": "ses"},
    "api": dict(models, TFT_API_RATE_PER_MINUTE="60", DATABASE_STATEMENT_TIMEOUT_SECS="10"),
    "watchdog": {},
    "deploy": dict(models, DATABASE_URL_SECRET_ARN=direct),
}
targets = [{"name": "hello", "binary": hello,
            "env": dict(lambda_env, AWS_LAMBDA_FUNCTION_NAME="tft-hello-bench"),
            "unset": ["DATABASE_URL", "PGBOUNCER_URL", "RUST_LOG"]}]
for f in functions:
    name, binary = f.split("=", 1)
    env = dict(lambda_env, AWS_LAMBDA_FUNCTION_NAME=f"tft-{name}-bench", **globals_env)
    env.update(own.get(name, {}))
    # Secrets by ARN only: a plain DATABASE_URL beside its ARN is refused.
    targets.append({"name": name, "binary": binary, "env": env,
                    "unset": ["DATABASE_URL", "PGBOUNCER_URL", "RUST_LOG"]})
json.dump({"baseline": "hello", "targets": targets}, open(out, "w"), indent=1)
PY

echo "cold_init: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
json_args=()
[ -n "$json" ] && json_args=(--json "$json")
"$release/measure" --config "$work/targets.json" --runs "$runs" "${json_args[@]}"
echo
echo "cold_init: load average $(cut -d' ' -f1-3 /proc/loadavg) after the run${json:+; JSON: $json}" >&2
