#!/usr/bin/env bash
# Starts Dimos as a national deployment runs it, on this machine's loopback:
# a PostgreSQL primary (127.0.0.1:55501) with a streaming standby made by
# pg_basebackup (55502, synchronous), an S3-compatible store (PyPI moto, 55510), three
# replicas (55521-55523) with the shipped configuration plus
# infra/cluster/dimos.toml, and Caddy in front (https on 55443) with
# on-demand TLS from its internal CA. State in target/cluster; stop it all
# with infra/cluster/down.sh. CLUSTER_BIN picks the binary (default: a
# release build of this checkout).
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/cluster/lib.sh

"$(dirname "$0")/down.sh" >/dev/null 2>&1 || true
rm -rf "$CLUSTER_DIR"
mkdir -p "$CLUSTER_DIR"

need_tools
build_dimos

log "PostgreSQL primary on 127.0.0.1:55501"
pg_init "$CLUSTER_DIR/pg-primary"
pg_start "$CLUSTER_DIR/pg-primary" 55501
psql "postgres://postgres@127.0.0.1:55501/postgres" -qc "CREATE DATABASE dimos"

log "PostgreSQL standby on 127.0.0.1:55502 (pg_basebackup, streaming)"
as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p 55501 -U postgres -D "$CLUSTER_DIR/pg-standby" -R -X stream -c fast
pg_start "$CLUSTER_DIR/pg-standby" 55502
[ "$(psql "postgres://postgres@127.0.0.1:55502/postgres" -Atc 'select pg_is_in_recovery()')" = t ] \
  || fail "the standby is not in recovery"
# Synchronous: a commit is acknowledged once the standby has it too, so a
# failover loses nothing that a citizen was told is filed.
psql "postgres://postgres@127.0.0.1:55501/postgres" -qc "ALTER SYSTEM SET synchronous_standby_names = '*'" \
  -c "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 50); do
  [ "$(psql "postgres://postgres@127.0.0.1:55501/postgres" -Atc "select sync_state from pg_stat_replication")" = sync ] && break
  sleep 0.1
done
[ "$(psql "postgres://postgres@127.0.0.1:55501/postgres" -Atc "select sync_state from pg_stat_replication")" = sync ] \
  || fail "the standby is not synchronous"

log "S3 store (moto) on 127.0.0.1:55510"
start_bg moto python3 -m moto.server -H 127.0.0.1 -p 55510
wait_http "http://127.0.0.1:55510/" 200 30
curl -fsS -X PUT "http://127.0.0.1:55510/dimos" >/dev/null

log "Caddy on https://127.0.0.1:55443"
CLUSTER_DIR="$CLUSTER_DIR" start_bg caddy caddy run --config infra/cluster/Caddyfile --adapter caddyfile
wait_http "http://127.0.0.1:55419/config/" 200 30
# Its CA signs the certificates; the replicas trust it for the sign-in
# provider they reach through Caddy (identity.ca_file).
for _ in $(seq 1 100); do [ -f "$CLUSTER_CA" ] && break; sleep 0.1; done
[ -f "$CLUSTER_CA" ] || fail "Caddy made no CA at $CLUSTER_CA"

for i in 1 2 3; do start_replica "$i"; done
for i in 1 2 3; do wait_http "http://127.0.0.1:5552$i/readyz" 200 60; done

log "up: https://kifisia.example:55443 (curl --resolve kifisia.example:55443:127.0.0.1 --cacert $CLUSTER_DIR/caddy/pki/authorities/local/root.crt)"
