#!/usr/bin/env bash
# Ensures a virtualenv with the pinned Python tools (moto server, cfn-lint, aiosmtpd, uv,
# schemathesis, playwright) and prints its bin directory. The venv lives in the user cache,
# keyed by the requirements' hash, so a second run reuses it; nothing in the repo depends on
# it existing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
req="$here/requirements-tools.txt"
hash="$(sha256sum "$req" | cut -c1-12)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/tft-trader/venv-tools-$hash"
if [ ! -x "$venv/bin/moto_server" ] || [ ! -x "$venv/bin/cfn-lint" ] || [ ! -x "$venv/bin/aiosmtpd" ] || [ ! -x "$venv/bin/uv" ] || [ ! -x "$venv/bin/schemathesis" ] || [ ! -x "$venv/bin/playwright" ]; then
  echo "infra: installing Python tools into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
fi
echo "$venv/bin"
