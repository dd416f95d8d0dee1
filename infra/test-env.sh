#!/usr/bin/env bash
# Runs a command with throwaway test services, and always stops them afterwards:
#   - PostgreSQL: a fresh cluster (initdb + pg_ctl) in a temp dir on a free port,
#     unless DATABASE_URL is already set;
#   - PgBouncer in transaction mode in front of it (how Neon's -pooler URL behaves);
#   - moto server, the local AWS stand-in (EventBridge, later S3 and SES);
#   - aiosmtpd, an SMTP server that stores what it receives in a maildir;
#   - Chromium (Debian's, apt-get when missing) and the tools venv's Playwright for the
#     dashboard's browser test (tests/it/dashboard.rs).
# Exports DATABASE_URL, PGBOUNCER_URL, AWS_ENDPOINT_URL, dummy AWS credentials,
# SMTP_TEST_URL and SMTP_TEST_MAILDIR, TFT_TOOLS_BIN (the tools venv) and TFT_CHROMIUM,
# and DATABASE_ALLOW_PLAINTEXT=1 with its own cluster (its URLs say sslmode=disable:
# 127.0.0.1 only; TLS is tested on its own, tests/it/tls.rs).
#
#   infra/test-env.sh cargo test --workspace
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/tft-test-env.XXXXXX")"
pids=()
pgdata=""
runas=()

log() { echo "test-env: $*" >&2; }

cleanup() {
  local status=$?
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  if [ -n "$pgdata" ] && [ -f "$pgdata/postmaster.pid" ]; then
    "${runas[@]}" "$pg_bin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1
  fi
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() { # port, name
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$2 did not start on port $1"; return 1
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "$1 is not installed and this is not root: install it ($2) or set DATABASE_URL"
    exit 1
  fi
  log "installing $2 with apt-get"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $2 >/dev/null
}

find_pg_bin() {
  local initdb
  initdb="$(command -v initdb || true)"
  [ -z "$initdb" ] && initdb="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)"
  [ -n "$initdb" ] && dirname "$(readlink -f "$initdb")"
}

# --- PostgreSQL -------------------------------------------------------------
if [ -z "${DATABASE_URL:-}" ]; then
  pg_bin="$(find_pg_bin || true)"
  if [ -z "$pg_bin" ]; then apt_install PostgreSQL postgresql; pg_bin="$(find_pg_bin)"; fi
  if [ "$(id -u)" = 0 ]; then
    # initdb and postgres refuse to run as root: use the postgres system user.
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$work"
    runas=(runuser -u postgres --)
  fi
  pgdata="$work/pgdata"
  pg_port="$(free_port)"
  # TLS: a throwaway CA and a server certificate for "localhost" only, so the tests can
  # prove the client verifies the chain and the host name (tests/it/tls.rs).
  command -v openssl >/dev/null 2>&1 || apt_install OpenSSL openssl
  tls="$work/tls"; mkdir -p "$tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" -subj "/CN=TFT Trader test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tls/ext.cnf"
  openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 2 -extfile "$tls/ext.cnf" -out "$tls/server.crt" 2>/dev/null
  chmod 600 "$tls/server.key"
  [ "$(id -u)" = 0 ] && chown -R postgres "$tls"
  export TEST_PG_CA_CERT="$tls/ca.crt"
  "${runas[@]}" "$pg_bin/initdb" -D "$pgdata" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 \
    || { cat "$work/initdb.log" >&2; exit 1; }
  "${runas[@]}" "$pg_bin/pg_ctl" -D "$pgdata" -l "$work/postgres.log" -w -t 30 \
    -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$tls/server.crt -c ssl_key_file=$tls/server.key" \
    start >/dev/null || { cat "$work/postgres.log" >&2; exit 1; }
  export DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres?sslmode=disable"
  export TEST_PG_PORT="$pg_port"
  # For tests that start (and restart) a private cluster of their own.
  export TEST_PG_BIN="$pg_bin"
  log "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $pg_port (TLS on, test CA)"

  # --- PgBouncer (transaction mode), only in front of our own cluster --------
  if ! command -v pgbouncer >/dev/null 2>&1; then apt_install PgBouncer pgbouncer; fi
  bouncer_port="$(free_port)"
  cat >"$work/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 4
ignore_startup_parameters = extra_float_digits,options
logfile = $work/pgbouncer.log
INI
  echo '"postgres" ""' >"$work/userlist.txt"
  bouncer_cmd=(pgbouncer "$work/pgbouncer.ini")
  [ "$(id -u)" = 0 ] && bouncer_cmd=(runuser -u postgres -- pgbouncer "$work/pgbouncer.ini")
  "${bouncer_cmd[@]}" >/dev/null 2>&1 &
  pids+=($!)
  wait_for_port "$bouncer_port" PgBouncer
  export PGBOUNCER_URL="postgres://postgres@127.0.0.1:$bouncer_port/postgres?sslmode=disable"
  # sslmode=disable is refused without it (shared/src/adapters/db.rs, "TLS").
  export DATABASE_ALLOW_PLAINTEXT=1
  log "PgBouncer $(pgbouncer --version | head -n1 | awk '{print $NF}') (transaction mode) on port $bouncer_port"
else
  log "using DATABASE_URL from the environment; no PgBouncer started"
fi

# --- moto server (local AWS) --------------------------------------------------
tools_bin="$("$here/python-tools.sh")"
# The training tests run the models project through uv: use the pinned one when the
# machine has none (appended, so the machine's own python3 still comes first).
if ! command -v uv >/dev/null 2>&1; then
  export PATH="$PATH:$tools_bin"
  log "uv from $tools_bin"
fi
moto_port="$(free_port)"
"$tools_bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for_port "$moto_port" "moto server"
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
log "moto server on port $moto_port"

# --- aiosmtpd (a real SMTP server) ---------------------------------------------
# Every message it accepts is stored in a maildir (one file per message in new/).
smtp_port="$(free_port)"
smtp_maildir="$work/maildir"
"$tools_bin/python" -m aiosmtpd -n -l "127.0.0.1:$smtp_port" \
  -c aiosmtpd.handlers.Mailbox "$smtp_maildir" >"$work/aiosmtpd.log" 2>&1 &
pids+=($!)
wait_for_port "$smtp_port" aiosmtpd
export SMTP_TEST_URL="smtp://127.0.0.1:$smtp_port" SMTP_TEST_MAILDIR="$smtp_maildir"
log "aiosmtpd on port $smtp_port (maildir $smtp_maildir)"

# --- Chromium (the dashboard's browser test) ----------------------------------
# Playwright (in the tools venv) drives the machine's Chromium: it cannot download its own
# browser here. Without root the test itself fails and says how to install it.
export TFT_TOOLS_BIN="$tools_bin"
chromium="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium" ] && [ "$(id -u)" = 0 ]; then
  apt_install Chromium chromium
  chromium="$(command -v chromium)"
fi
if [ -n "$chromium" ]; then
  export TFT_CHROMIUM="$chromium"
  log "$("$chromium" --version 2>/dev/null | head -n1) at $chromium, Playwright $("$tools_bin/python" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
else
  log "Chromium is not installed and this is not root: the dashboard's browser test will fail (apt-get install -y chromium)"
fi

set +e
"$@"
status=$?
set -e
if [ $status -ne 0 ] && [ -n "$pgdata" ]; then
  log "command failed ($status); last PostgreSQL log lines:"; tail -n 20 "$work/postgres.log" >&2
fi
exit $status
