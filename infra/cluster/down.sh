#!/usr/bin/env bash
# Stops everything infra/cluster/up.sh started (its state stays in
# target/cluster until the next up.sh).
set -uo pipefail
cd "$(dirname "$0")/../.."
. infra/cluster/lib.sh
for f in "$CLUSTER_DIR"/*.pid; do
  [ -f "$f" ] || continue
  kill "$(cat "$f")" 2>/dev/null
  rm -f "$f"
done
for d in pg-standby pg-primary; do
  [ -f "$CLUSTER_DIR/$d/postmaster.pid" ] && as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/$d" -m fast -w stop >/dev/null 2>&1
done
exit 0
