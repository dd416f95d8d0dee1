#!/usr/bin/env bash
# `make build-lambdas`: the arm64 release build of every Lambda function (functions/*), as
# `sam build` makes it (cargo-lambda, provided.al2023 on Graviton), zipped, with a table of
# each bootstrap.zip's size; a zip over 10 MB (issue 13's goal) is flagged. Not run by CI or
# `make test`: a cold build takes about 40 minutes on a 2-core machine (docs/deploy.md).
#
# Prerequisites, each checked with a message saying how to get it:
#   - cargo and rustup, with the aarch64-unknown-linux-gnu target;
#   - cargo-lambda and Zig (its cross linker), from PyPI, pinned in
#     infra/requirements-lambda-build.txt: `infra/python-tools.sh lambda-build` installs them
#     into a venv in the user cache (this script runs it; pip must reach PyPI the first time).
#
# Options: FUNCTION... builds only those (directory names under functions/);
# --no-install fails instead of creating the venv. CARGO_TARGET_DIR is honoured: the zips
# are under "$CARGO_TARGET_DIR/lambda/<binary>/bootstrap.zip" (default target/lambda/...).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

limit_bytes=$((10 * 1000 * 1000)) # 10 MB, decimal, as the Lambda console and the issue count
target=aarch64-unknown-linux-gnu
install=1
only=()
for arg in "$@"; do
  case "$arg" in
    --no-install) install=0 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build-lambdas: unknown option $arg" >&2; exit 2 ;;
    *) only+=("$arg") ;;
  esac
done

fail() { echo "build-lambdas: $*" >&2; exit 1; }

# 1. Rust and the aarch64 target.
command -v cargo >/dev/null || fail "cargo not found: install Rust with rustup (https://rustup.rs), then run this again."
command -v rustup >/dev/null || fail "rustup not found: the aarch64 target is installed with rustup; install Rust with rustup (https://rustup.rs)."
if ! rustup target list --installed | grep -qx "$target"; then
  fail "the Rust target $target is not installed: run \`rustup target add $target\`, then this again."
fi

# 2. cargo-lambda and Zig, from the pinned venv.
venv_id="lambda-build-$(sha256sum infra/requirements-lambda-build.txt | cut -c1-12)"
venv_bin="${XDG_CACHE_HOME:-$HOME/.cache}/tft-trader/venv-$venv_id/bin"
if [ ! -x "$venv_bin/cargo-lambda" ] || [ ! -x "$venv_bin/python-zig" ]; then
  if [ "$install" = 0 ]; then
    fail "cargo-lambda and Zig are not installed: run \`infra/python-tools.sh lambda-build\` (pip install -r infra/requirements-lambda-build.txt into a venv), then this again."
  fi
  command -v python3 >/dev/null || fail "python3 not found: cargo-lambda and Zig come from PyPI; install Python 3 with venv and pip (Debian: apt-get install python3-venv), then run this again."
  venv_bin="$(infra/python-tools.sh lambda-build)" \
    || fail "installing cargo-lambda and Zig failed (above): \`pip install -r infra/requirements-lambda-build.txt\` into a venv must reach PyPI."
fi
"$venv_bin/cargo-lambda" lambda --version >/dev/null 2>&1 \
  || fail "$venv_bin/cargo-lambda does not run: delete $(dirname "$venv_bin") and run \`infra/python-tools.sh lambda-build\` again."
"$venv_bin/python" -m ziglang version >/dev/null 2>&1 \
  || fail "Zig (PyPI ziglang) does not run from $venv_bin/python: delete $(dirname "$venv_bin") and run \`infra/python-tools.sh lambda-build\` again."
# cargo-lambda (cargo-zigbuild) finds Zig as `python3 -m ziglang`: the venv's python first.
export PATH="$venv_bin:$PATH"

# 3. The functions: package and binary names from each functions/<dir>/Cargo.toml.
toml_package_name() { sed -n '/^\[package\]/,/^\[/s/^name *= *"\(.*\)"/\1/p' "$1" | head -n1; }
toml_bin_name() { sed -n '/^\[\[bin\]\]/,/^\[/s/^name *= *"\(.*\)"/\1/p' "$1" | head -n1; }
dirs=()
if [ "${#only[@]}" -gt 0 ]; then
  for d in "${only[@]}"; do
    [ -f "functions/$d/Cargo.toml" ] || fail "no function named $d (functions/$d/Cargo.toml)"
    dirs+=("$d")
  done
else
  for m in functions/*/Cargo.toml; do dirs+=("$(basename "$(dirname "$m")")"); done
fi
pkgs=(); bins=()
for d in "${dirs[@]}"; do
  pkg="$(toml_package_name "functions/$d/Cargo.toml")"
  bin="$(toml_bin_name "functions/$d/Cargo.toml")"
  [ -n "$pkg" ] || fail "functions/$d/Cargo.toml has no package name"
  pkgs+=("$pkg"); bins+=("${bin:-$pkg}")
done

# 4. The build: one cargo invocation per function, as `sam build` does (one per function's
# Binary). Not one for all: cargo unifies the features of the packages built together, and
# predict's `ensemble/serving` (tract) would then be linked into api and deploy too (seen:
# tract-core and tract-linalg in both zips) although neither uses it. Shared dependencies
# with the same features are still built once.
start=$(date +%s)
for p in "${pkgs[@]}"; do
  echo "build-lambdas: cargo lambda build --release --arm64 --output-format zip -p $p" >&2
  cargo lambda build --release --arm64 --output-format zip -p "$p"
done
echo "build-lambdas: built in $(( $(date +%s) - start )) s" >&2

# 5. The sizes.
lambda_dir="${CARGO_TARGET_DIR:-$root/target}/lambda"
over=0
printf '\n%-18s %-18s %12s %9s %12s  %s\n' function binary zip_bytes zip_MB bootstrap_MB note
for i in "${!dirs[@]}"; do
  zip="$lambda_dir/${bins[$i]}/bootstrap.zip"
  [ -f "$zip" ] || fail "missing $zip after the build"
  size=$(stat -c %s "$zip")
  raw=$(unzip -l "$zip" 2>/dev/null | awk '$4=="bootstrap"{print $1}' || true)
  note=""
  if [ "$size" -gt "$limit_bytes" ]; then note="OVER 10 MB"; over=$((over + 1)); fi
  mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1000000 }'; }
  printf '%-18s %-18s %12d %9s %12s  %s\n' "${dirs[$i]}" "${bins[$i]}" "$size" "$(mb "$size")" \
    "$( [ -n "$raw" ] && mb "$raw" || echo '?')" "$note"
done
echo
if [ "$over" -gt 0 ]; then
  echo "build-lambdas: $over function(s) over the 10 MB goal (why: docs/deploy.md, Sizes)." >&2
fi
