#!/usr/bin/env python3
"""A local webhook receiver for the pipeline demo: verifies every POST as a user's receiver
should (docs/notifications.md, "Verifying the signature"), prints what it received, and
answers 204 when the signature holds, 401 when it does not (notify then retries it).

The signature: X-TFT-Signature = "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw
body>")>", computed over the raw body bytes, compared in constant time, and refused when
t is more than 300 s from now. The secret is read from the environment variable named by
--secret-env (never from the command line). Every request is appended to --log as one
JSON line ({"ok", "reason", "event", "id", "body"}). On SIGTERM or SIGINT it exits 0 if
every request verified, 1 if any did not. Standard library only.

    NOTIFY_WEBHOOK_SECRET=... python3 infra/webhook_receiver.py --port 8090 --log hooks.jsonl
"""
import argparse
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 300
STATE = {"bad": 0, "ok": 0}
LOCK = threading.Lock()


def verify(secret: bytes, header: str, raw_body: bytes, now: float) -> str | None:
    """None when the signature holds, else why not."""
    try:
        parts = dict(p.strip().split("=", 1) for p in header.split(","))
        t, v1 = parts["t"], parts["v1"]
        ts = int(t)
    except (KeyError, ValueError):
        return "malformed X-TFT-Signature"
    if abs(now - ts) > TOLERANCE:
        return f"timestamp {ts} is more than {TOLERANCE} s from now"
    expected = hmac.new(secret, t.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, v1):
        return "signature mismatch"
    return None


def summary(body: dict) -> str:
    data = body.get("data") or {}
    keys = ("ticker", "signal", "entry_price", "stop_loss", "target_price", "shares",
            "confidence", "exit_reason", "exit_price", "pnl", "drawdown")
    def show(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    fields = ", ".join(f"{k}={show(data[k])}" for k in keys if data.get(k) is not None)
    return f"{body.get('type')} {body.get('id')}: {fields}"


class Handler(BaseHTTPRequestHandler):
    secret = b""
    log = None

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        header = self.headers.get("X-TFT-Signature", "")
        reason = verify(self.secret, header, raw, time.time())
        try:
            body = json.loads(raw)
        except ValueError:
            body, reason = None, reason or "body is not JSON"
        if reason is None and body.get("id") != self.headers.get("Idempotency-Key"):
            reason = "Idempotency-Key differs from the body's id"
        if reason is None and body.get("type") != self.headers.get("X-TFT-Event"):
            reason = "X-TFT-Event differs from the body's type"
        with LOCK:
            STATE["ok" if reason is None else "bad"] += 1
            if self.log:
                with open(self.log, "a") as f:
                    f.write(json.dumps({"ok": reason is None, "reason": reason,
                                        "event": self.headers.get("X-TFT-Event"),
                                        "id": self.headers.get("Idempotency-Key"),
                                        "body": body}) + "\n")
        if reason is None:
            print(f"  webhook: signature OK  {summary(body)}", flush=True)
            self.send_response(204)
            self.end_headers()
        else:
            print(f"  webhook: REFUSED ({reason}) {self.headers.get('Idempotency-Key')}",
                  flush=True)
            text = f"{reason}\n".encode()
            self.send_response(401)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret-env", default="NOTIFY_WEBHOOK_SECRET")
    parser.add_argument("--log")
    args = parser.parse_args()
    secret = os.environ.get(args.secret_env)
    if not secret:
        sys.exit(f"webhook_receiver: ${args.secret_env} is not set")
    Handler.secret, Handler.log = secret.encode(), args.log
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    with LOCK:
        ok, bad = STATE["ok"], STATE["bad"]
    print(f"  webhook receiver: {ok} verified, {bad} refused", flush=True)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
