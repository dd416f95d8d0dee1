#!/usr/bin/env bash
# The query API against its own contract: schemathesis (pinned in
# infra/requirements-tools.txt) generates requests from /v1/openapi.json and fails on any
# server error (5xx) or any response that does not match the documented schema.
#
#   tools/api/schemathesis.sh BASE_URL API_KEY [extra schemathesis args]
#
# make test runs it against a seeded database (tests/it/api.rs); by hand, point it at
# `tft serve` with a key from `tft api-keys create --admin`.
set -euo pipefail
base="${1:?usage: schemathesis.sh BASE_URL API_KEY}"
key="${2:?usage: schemathesis.sh BASE_URL API_KEY}"
shift 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
st="$(command -v schemathesis || true)"
[ -n "$st" ] || st="$("$here/infra/python-tools.sh")/schemathesis"
exec "$st" run "$base/v1/openapi.json" \
  --url "$base" \
  -H "Authorization: Bearer $key" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" \
  --seed 7 \
  --no-color \
  "$@"
