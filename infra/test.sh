#!/usr/bin/env bash
# Runs the whole test suite: unit tests, the black-box HTTP tests on SQLite
# *and* PostgreSQL, and the browser tests. This is the README's second
# command and what .ci/run calls.
#
# It makes sure the real peers exist first: a PostgreSQL server (the local
# one, or a throwaway cluster; installed with apt where missing), Debian's
# chromium, the browser tests' npm packages, and the Python test peers
# (aiosmtpd for mail, moto for S3). It never skips a database.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[test]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  log "installing $* with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_ok() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

ensure_postgres() {
  if [ -n "${DIMOS_TEST_POSTGRES_URL:-}" ]; then
    pg_ok "$DIMOS_TEST_POSTGRES_URL" && return 0
    log "DIMOS_TEST_POSTGRES_URL=$DIMOS_TEST_POSTGRES_URL is not reachable"; exit 1
  fi
  command -v psql >/dev/null || apt_install postgresql postgresql-client
  local local_url="postgres://postgres@127.0.0.1:5432/postgres"
  if pg_ok "$local_url"; then export DIMOS_TEST_POSTGRES_URL="$local_url"; return 0; fi
  # A machine-wide cluster that is installed but stopped: start it.
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    local v; v=$(ls /etc/postgresql | sort -V | tail -1)
    if [ -n "$v" ]; then
      log "starting the local PostgreSQL $v cluster"
      as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start >/dev/null 2>&1 || true
      for _ in $(seq 1 20); do pg_ok "$local_url" && { export DIMOS_TEST_POSTGRES_URL="$local_url"; return 0; }; sleep 0.5; done
    fi
  fi
  # Otherwise a throwaway trust-auth cluster under target/, on its own port.
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then apt_install postgresql; bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); fi
  local dir="$PWD/target/test-pg" port=55432
  local run=(); if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); fi
  if [ ! -f "$dir/PG_VERSION" ]; then
    mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
    "${run[@]}" "$bin/initdb" -D "$dir" -U postgres -A trust --no-sync >/dev/null
  fi
  log "starting a throwaway PostgreSQL on 127.0.0.1:$port"
  "${run[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null || true
  export DIMOS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  pg_ok "$DIMOS_TEST_POSTGRES_URL" || { log "could not start PostgreSQL (see $dir/log)"; exit 1; }
}

ensure_browser() {
  command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || apt_install chromium
  command -v node >/dev/null || apt_install nodejs npm
  local dir=tests/node
  if [ ! -d "$dir/node_modules/playwright-core" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "installing the browser tests' npm packages"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
  fi
}

# The SMTP server the notification tests send to (PyPI aiosmtpd), the
# S3-compatible server the storage tests use (PyPI moto[server]) and the
# independent matching implementation nurseries' placement is checked
# against (PyPI matching).
ensure_python_peers() {
  # OpenSSL is the independent verifier of our signatures and makes the
  # test SMTP server's certificates.
  command -v openssl >/dev/null || apt_install openssl
  if ! python3 -c 'import aiosmtpd, moto.server, matching, schemathesis, openapi_python_client, standardwebhooks' 2>/dev/null; then
    log "installing the Python test peers (aiosmtpd, moto, matching, schemathesis, openapi-python-client, standardwebhooks)"
    python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  fi
}

# Each test creates its own database; drop those left by earlier runs.
drop_old_test_databases() {
  psql "$DIMOS_TEST_POSTGRES_URL" -Atqc \
    "select datname from pg_database where datname like 'dimos\_test\_%' or datname like 'dimos\_cli\_%'" |
    while read -r db; do psql "$DIMOS_TEST_POSTGRES_URL" -qc "drop database if exists \"$db\"" >/dev/null 2>&1 || true; done
}

ensure_postgres
drop_old_test_databases
ensure_browser
ensure_python_peers
# The Open311 conformance script is a curl client.
command -v curl >/dev/null || apt_install curl
log "PostgreSQL for tests: $DIMOS_TEST_POSTGRES_URL"
cargo test --workspace --locked "$@"
# The deployment artefacts, checked with the binary the tests built.
command -v systemd-analyze >/dev/null || apt_install systemd
infra/systemd/check.sh
command -v caddy >/dev/null || apt_install caddy
python3 -c 'import yaml' 2>/dev/null || apt_install python3-yaml
infra/compose/check.sh
infra/kubernetes/check.sh
