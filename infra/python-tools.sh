#!/usr/bin/env bash
# Ensures a virtualenv with the pinned Python tools (moto server, cfn-lint, aiosmtpd, uv,
# schemathesis, playwright) and prints its bin directory; with `sam`, the SAM CLI's venv;
# with `lambda-build`, cargo-lambda and Zig's (infra/build-lambdas.sh).
# The venv lives in the user cache, keyed by the requirements' hash, so a second run reuses
# it; nothing in the repo depends on it existing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# `infra/python-tools.sh sam`: the SAM CLI's venv instead (infra/requirements-sam.txt).
case "${1:-tools}" in
  tools)
    req="$here/requirements-tools.txt"
    bins="moto_server cfn-lint aiosmtpd uv schemathesis playwright" ;;
  sam)
    req="$here/requirements-sam.txt"
    bins="sam" ;;
  # `infra/python-tools.sh lambda-build`: cargo-lambda and ziglang (infra/requirements-lambda-build.txt).
  lambda-build)
    req="$here/requirements-lambda-build.txt"
    bins="cargo-lambda python-zig" ;;
  *) echo "usage: $0 [tools|sam|lambda-build]" >&2; exit 2 ;;
esac
hash="$(sha256sum "$req" | cut -c1-12)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/tft-trader/venv-${1:-tools}-$hash"
missing=0
for b in $bins; do [ -x "$venv/bin/$b" ] || missing=1; done
if [ "$missing" = 1 ]; then
  echo "infra: installing Python tools into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
fi
echo "$venv/bin"
