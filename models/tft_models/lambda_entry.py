"""The weekly retrain as a Lambda function (models/Dockerfile, template.yaml, docs/retrain.md).

`handler(event, context)` runs `models/retrain.sh` (export -> train -> upload -> promote or
keep) for the week the scheduled event names and returns a JSON summary: the version
trained, whether it was promoted or the current one kept, the promotion rule's reason and
both strategies' scores. A failed step raises with the reason (the last lines the step
printed), so Lambda counts an error, retries, and the on-failure destination keeps the event.

Environment (as the Rust functions, docs/operations.md "Secrets"):
  DATABASE_URL_SECRET_ARN  a Secrets Manager secret whose JSON has a "url" key; read once per
                           container with boto3, never logged. Locally DATABASE_URL itself
                           works; both at once is an error (which would win is a guess).
  TFT_MODEL_STORE          s3://bucket/prefix or a directory; else s3://$TFT_MODEL_BUCKET/
                           $TFT_MODEL_PREFIX (the template's variables, as predict's).
  RETRAIN_*, TFT_BIN       passed to retrain.sh as they are.

The event: an EventBridge Scheduler event shaped like the template's other schedules
(`{"time": "<scheduled time>", "detail": {}}`). The export ends the day before the scheduled
time's UTC date (retrain.sh's own default: yesterday); `detail.to` (YYYY-MM-DD) overrides it
(a replayed dead letter retrains the week it was meant for, not today's).

Locally: `uv run --locked --group lambda python -m tft_models.lambda_entry [EVENT.json]`
prints the summary (exit 1 and the reason on failure).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RETRAIN_SH = Path(__file__).resolve().parent.parent / "retrain.sh"
TAIL_LINES = 25


class RetrainError(RuntimeError):
    """The retrain failed; the message is the reason (no secret in it)."""


_database_url: str | None = None


def database_url(env: dict[str, str]) -> str:
    """DATABASE_URL, or the "url" key of the secret DATABASE_URL_SECRET_ARN names (cached)."""
    global _database_url
    url, arn = env.get("DATABASE_URL", ""), env.get("DATABASE_URL_SECRET_ARN", "")
    if url and arn:
        raise RetrainError("both DATABASE_URL and DATABASE_URL_SECRET_ARN are set: set one")
    if url:
        return url
    if not arn:
        raise RetrainError("DATABASE_URL_SECRET_ARN (or, locally, DATABASE_URL) must be set")
    if _database_url is None:
        import boto3  # the Lambda Python base image has it; locally the `lambda` group

        # The secret's own region (arn:aws:secretsmanager:<region>:...), else Lambda's.
        parts = arn.split(":")
        region = parts[3] if len(parts) > 3 and parts[3] else env.get("AWS_REGION")
        try:
            client = boto3.client("secretsmanager", region_name=region)
            value = client.get_secret_value(SecretId=arn)
        except Exception as e:  # the SDK's message names the ARN and the cause, no value
            raise RetrainError(f"could not read secret {arn} (DATABASE_URL_SECRET_ARN): {e}") from None
        text = value.get("SecretString")
        if not text:
            raise RetrainError(f"secret {arn} has no SecretString: store a JSON object with the key url")
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if not isinstance(obj, dict):
            raise RetrainError(f"secret {arn} is not a JSON object: store one with the key url")
        found = obj.get("url")
        if not isinstance(found, str) or not found:
            raise RetrainError(f'secret {arn} has no "url" key, or it is empty (needed as DATABASE_URL)')
        _database_url = found
    return _database_url


def model_store(env: dict[str, str]) -> str:
    if env.get("TFT_MODEL_STORE"):
        return env["TFT_MODEL_STORE"]
    bucket, prefix = env.get("TFT_MODEL_BUCKET", ""), env.get("TFT_MODEL_PREFIX", "").strip("/")
    if not bucket:
        raise RetrainError("TFT_MODEL_STORE or TFT_MODEL_BUCKET must be set")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def retrain_to(event: dict) -> str | None:
    """The export's last day: detail.to, else the day before the scheduled time (UTC)."""
    detail = event.get("detail") or {}
    if detail.get("to"):
        try:
            return dt.date.fromisoformat(str(detail["to"])).isoformat()
        except ValueError:
            raise RetrainError(f"detail.to {detail['to']!r} is not a date (YYYY-MM-DD)") from None
    when = event.get("time")
    if not when:
        return None  # retrain.sh: yesterday, UTC
    try:
        at = dt.datetime.fromisoformat(str(when).replace("Z", "+00:00"))
    except ValueError:
        raise RetrainError(f"event time {when!r} is not an RFC 3339 time") from None
    if at.tzinfo is not None:
        at = at.astimezone(dt.timezone.utc)
    return (at.date() - dt.timedelta(days=1)).isoformat()


def summarize(lines: list[str]) -> dict:
    """The version and the promotion's verdict from what retrain.sh printed."""
    out: dict = {}
    for line in lines:
        text = line.strip()
        if text.startswith("uploaded ") and " to " in text:
            out["version"] = text.split()[1]
        elif text.startswith("{") and '"decision"' in text:
            verdict = json.loads(text)
            out.update(window=verdict.get("window"), candidate=verdict.get("candidate"),
                       current=verdict.get("current"), decision=verdict.get("decision"))
        elif text.startswith("kept the current bundle: "):
            out.update(outcome="kept", reason=text.removeprefix("kept the current bundle: "))
        elif " is now current in " in text:
            out.update(outcome="promoted", reason=text.split(": ", 1)[1] if ": " in text else "")
        elif " is already current in " in text:
            out.update(outcome="kept", reason="already current: the same data and code gave the same version")
        elif text.startswith("retrain: ") and " took " in text and text.endswith(" s"):
            step, _, secs = text.removeprefix("retrain: ").removesuffix(" s").partition(" took ")
            if secs.isdigit():
                out.setdefault("step_seconds", {})[step] = int(secs)
    return out


def run(event: dict, env: dict[str, str] | None = None) -> dict:
    env = dict(os.environ if env is None else env)
    started = time.monotonic()
    store = model_store(env)
    child = dict(env)
    child.pop("DATABASE_URL_SECRET_ARN", None)  # tft reads DATABASE_URL itself
    child["DATABASE_URL"] = database_url(env)
    child["TFT_MODEL_STORE"] = store
    to = retrain_to(event)
    if to:
        child["RETRAIN_TO"] = to
    lines: list[str] = []
    with subprocess.Popen(["bash", str(RETRAIN_SH)], env=child, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            print(line, end="", flush=True)  # to the function's log group, as it happens
            lines.append(line)
    if proc.returncode != 0:
        tail = "".join(lines[-TAIL_LINES:]).strip()
        raise RetrainError(f"retrain.sh failed (exit {proc.returncode}): {tail}")
    summary = summarize(lines)
    if "version" not in summary or "outcome" not in summary:
        raise RetrainError("retrain.sh succeeded but printed no version or promotion result")
    summary.update(store=store, to=to, seconds=round(time.monotonic() - started, 1))
    return summary


def handler(event, context):  # noqa: ARG001 - Lambda's signature
    summary = run(event if isinstance(event, dict) else {})
    print(json.dumps({"retrain": summary}), flush=True)
    return summary


def main(argv: list[str]) -> int:
    event = json.load(open(argv[1]) if len(argv) > 1 else sys.stdin)
    try:
        summary = run(event)
    except RetrainError as e:
        print(f"retrain failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
