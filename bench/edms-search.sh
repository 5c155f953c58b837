#!/usr/bin/env bash
# Document search at scale: 200,000 documents of one municipality on
# PostgreSQL, searched over HTTP as staff search them (wrk, what browsers
# send, one connection: how long one person waits). Writes its table into
# docs/performance.md between the edms markers.
#
#   bench/edms-search.sh            # BENCH_DOCUMENTS (200000), BENCH_DURATION (20s)
{
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
DURATION=${BENCH_DURATION:-20s}
TOTAL=${BENCH_DOCUMENTS:-200000}
ADMIN_URL=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORT=18091
host=alimos.localhost
log() { printf '\033[1m[edms-search]\033[0m %s\n' "$*" >&2; }
for c in wrk psql python3 curl; do command -v "$c" >/dev/null || { log "needs $c"; exit 1; }; done

log "building the release server"
cargo build --release -q -p dimos-server
bin=$root/target/release/dimos
work=$(mktemp -d /tmp/dimos-edms-bench.XXXXXX)
dbname="dimos_edms_bench_$$"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -z "${BENCH_KEEP_DB:-}" ] && psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $dbname" >/dev/null 2>&1 || echo "kept database: $dbname" >&2
  rm -rf "$work"
}
trap cleanup EXIT
psql "$ADMIN_URL" -qc "CREATE DATABASE $dbname" >/dev/null
DB_URL="${ADMIN_URL%/*}/$dbname"

env -i PATH="$PATH" HOME="$HOME" \
  DIMOS_LISTEN="127.0.0.1:$PORT" DIMOS_DATA_DIR="$work/data" \
  DIMOS_DATABASE__URL="$DB_URL" DIMOS_LOG_FILTER=warn \
  DIMOS_TENANCY__APPLY_ON_START="$root/tenants" \
  "$bin" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

# The people (their accounts exist once they have signed in).
python3 bench/session.py "$host" "$PORT" mayor 2 / >"$work/mayor.tsv"
python3 bench/session.py "$host" "$PORT" council-secretary 2 / >"$work/clerk.tsv"
python3 bench/session.py "$host" "$PORT" kep-officer 1 / >/dev/null

tenant=$(psql "$DB_URL" -Atqc "SELECT id FROM tenants WHERE slug = 'alimos'")
registrar=$(psql "$DB_URL" -Atqc "SELECT id FROM accounts WHERE tenant_id = '$tenant' AND tax_id = '100000039'")
log "seeding $TOTAL documents"
t0=$(date +%s)
psql "$DB_URL" -q -v tenant="$tenant" -v registrar="$registrar" -v total="$TOTAL" -f bench/seed-edms.sql >/dev/null
psql "$DB_URL" -qc "VACUUM ANALYZE"
log "seeded in $(( $(date +%s) - t0 ))s: $(psql "$DB_URL" -Atqc 'SELECT COUNT(*) FROM edms_records') documents, $(psql "$DB_URL" -Atqc "SELECT pg_size_pretty(pg_total_relation_size('edms_records'))")"

rows=()
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
measure() { # name, sessions, path
  local out="$work/wrk-$(echo "$1" | tr -c 'a-z0-9' _).txt" t0 t1 hz found
  # What the page finds (its first page holds 25): a query that finds
  # nothing would measure nothing.
  found=$(curl -fsS -H "Host: $host:$PORT" -H "Cookie: $(head -1 "$2" | cut -f1)" \
    "http://127.0.0.1:$PORT$3" | { grep -o 'href="/edms/records/[0-9a-f-]*"' || true; } | sort -u | wc -l)
  hz=$(getconf CLK_TCK); t0=$(ticks)
  SESSIONS="$2" wrk -t1 -c1 -d"$DURATION" --latency -s bench/get.lua \
    -H "Host: $host:$PORT" "http://127.0.0.1:$PORT$3" >"$out" 2>&1
  t1=$(ticks)
  local rss; rss=$(( $(awk '/VmRSS/ {print $2}' "/proc/$pid/status") / 1024 ))
  rows+=("$(python3 bench/wrk_summary.py "$1 ($found on the first page)" 1 "$(( (t1 - t0) * 100 / hz / ${DURATION%s} ))" "$rss" "$out")")
  log "${rows[-1]}"
}
enc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
# Every word as a word's beginning, accents and capitals as typed.
measure "Two common words («Κλάδεμα δέντρα»), the mayor" "$work/mayor.tsv" "/edms/search?q=$(enc 'Κλάδεμα δέντρα')"
measure "One common word («αίτηση»), the mayor" "$work/mayor.tsv" "/edms/search?q=$(enc 'αίτηση')"
measure "A rare pair («ΠΟΣΕΙΔΩΝΟΣ πλημμύρα»), the mayor" "$work/mayor.tsv" "/edms/search?q=$(enc 'ΠΟΣΕΙΔΩΝΟΣ πλημμύρα')"
measure "Words that match nothing, the mayor" "$work/mayor.tsv" "/edms/search?q=$(enc 'ανύπαρκτη λέξη')"
measure "A prefix («κλαδ») and a year, the mayor" "$work/mayor.tsv" "/edms/search?q=$(enc 'κλαδ')&year=2024"
measure "Two common words, a clerk (her department and her documents)" "$work/clerk.tsv" "/edms/search?q=$(enc 'Κλάδεμα δέντρα')"
measure "My documents (charged to me), a clerk" "$work/clerk.tsv" "/edms?tab=mine"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
machine="$(nproc) cores ($cpu), $(free -g | awk '/Mem:/ {print $2}') GB RAM, $(uname -sr); PostgreSQL $(psql "$ADMIN_URL" -Atqc 'SHOW server_version')"
table=$(
  echo "Measured $(date -u +%Y-%m-%d) by \`bench/edms-search.sh\` ($TOTAL documents of one municipality with a page of text each, $(psql "$DB_URL" -Atqc "SELECT COUNT(*) FROM edms_movements") movements; one replica, shipped defaults; wrk, one connection, $DURATION per row) on $machine."
  echo
  echo "| Search | Connections | Requests/s | p50 | p99 | Errors | CPU (server) | RSS |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
)
echo "$table"
if [ -z "${BENCH_NO_WRITE:-}" ]; then
  python3 bench/write_doc.py docs/performance.md edms "$table"
  log "written to docs/performance.md"
fi
exit
}
