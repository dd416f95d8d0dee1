# The two commands a newcomer needs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
.PHONY: test lint demo demo-pipeline fmt build-lambdas bench-cold-init bench-walk-forward

# The whole suite: unit tests, golden files, and integration tests against a throwaway
# PostgreSQL + PgBouncer + moto that infra/test-env.sh starts and always stops.
# The function binaries first: the contract test (tests/it/contract.rs) runs each under a
# Lambda Runtime API emulator.
test:
	cargo build --workspace --bins
	infra/test-env.sh cargo test --workspace

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	"$$(infra/python-tools.sh)/cfn-lint" template.yaml
	# Offline: the SAM translator and cfn-lint run locally; a region is required, none is called.
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 "$$(infra/python-tools.sh sam)/sam" validate --lint --template template.yaml

fmt:
	cargo fmt --all

# The main job: the backtest on bundled real data (see infra/demo.sh).
demo:
	infra/demo.sh

# The services demo: PostgreSQL, moto and recorded Yahoo responses through the real handlers.
demo-pipeline:
	infra/demo.sh --pipeline

# The arm64 release build of every Lambda function, zipped, with each zip's size (goal
# <= 10 MB). Not in CI or `make test`: a cold build takes ~40 minutes (docs/deploy.md).
build-lambdas:
	infra/build-lambdas.sh

# Benchmark (not a test): each function's cold init (process start -> first runtime poll)
# against a hello-world lambda_runtime binary, under a local Runtime API emulator, with
# PostgreSQL and moto from infra/test-env.sh (docs/deploy.md, "Cold init").
bench-cold-init:
	tools/bench/cold_init.sh

# Benchmark (not a test): the monthly walk-forward over 2020-21 on the 405 tickers handed
# beside the checkout, timed with a fresh fold cache (docs/backtest.md, "Speed").
bench-walk-forward:
	tools/bench/walk_forward.sh
