#!/usr/bin/env bash
# The load harness: one command from a fresh clone.
#
#   bench/run.sh                  # PostgreSQL, two replicas, the shipped defaults
#   BENCH_DB=sqlite bench/run.sh  # one replica on SQLite
#
# It builds the release server, creates a fresh database, loads 332
# municipalities (the two demo ones and 330 made from Alimos' file), starts
# the replicas with the shipped configuration (only the database, the data
# folder and the listen address are set, and loopback is trusted as the
# TLS proxy in front, so that sign-ins carry a crowd's addresses), signs citizens in through the
# development provider as a browser does, and measures with wrk (Debian's
# package; not a home-made loop): the public home page, submissions of an
# application with two documents, the citizen's "My applications" and case
# page, the same submission's SQL replayed by pgbench, a staff queue, the
# protocol book, sign-in, and a large municipality's nursery placement and
# publication. It prints a table (throughput, p50, p99, errors, CPU, RSS) and writes
# it into docs/performance.md between the bench markers, with the machine.
#
# Settings (environment): BENCH_DB (postgres|sqlite), BENCH_DURATION (20s),
# BENCH_CONCURRENCY (50 submitters, split over the replicas),
# BENCH_POSTGRES_URL (the server's admin URL; default the local one),
# BENCH_NO_WRITE=1 (print only), BENCH_KEEP_DB=1 (leave the PostgreSQL
# database behind, named on exit, to EXPLAIN what was slow).
# The whole script is one block, read before any of it runs: editing the
# file during a run (a long one) does not change the run.
{
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

DB=${BENCH_DB:-postgres}
DURATION=${BENCH_DURATION:-20s}
CONC=${BENCH_CONCURRENCY:-50}
ADMIN_URL=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PORTS=(18081 18082)
[ "$DB" = sqlite ] && PORTS=(18081)

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need() {
  command -v "$1" >/dev/null && return 0
  log "installing $2 with apt"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need wrk wrk
need python3 python3
[ "$DB" = postgres ] && need psql postgresql-client && need pgbench postgresql-client

log "building the release server"
cargo build --release -q -p dimos-server
bin=$root/target/release/dimos

work=$(mktemp -d /tmp/dimos-bench.XXXXXX)
pids=()
dbname=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$dbname" ] && [ -n "${BENCH_KEEP_DB:-}" ]; then
    echo "kept database: $dbname" >&2
  elif [ -n "$dbname" ]; then
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $dbname" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# 332 municipalities: the demo ones, and 330 more made from Alimos' file
# (another slug, name and domain; the same services).
mkdir -p "$work/tenants"
cp -r tenants/* "$work/tenants/"
for i in $(seq -w 1 330); do
  sed -e "s/^slug = \"alimos\"/slug = \"dimos-$i\"/" \
      -e "s/alimos\.example\.gr/dimos-$i.example.gr/g" \
      -e "s/^el = \"Δήμος Αλίμου\"/el = \"Δήμος Δοκιμής $i\"/" \
      -e "s/^en = \"Municipality of Alimos\"/en = \"Test Municipality $i\"/" \
      tenants/alimos.toml >"$work/tenants/dimos-$i.toml"
done

if [ "$DB" = postgres ]; then
  dbname="dimos_bench_$$"
  psql "$ADMIN_URL" -qc "CREATE DATABASE $dbname" >/dev/null
  DB_URL="${ADMIN_URL%/*}/$dbname"
else
  DB_URL="sqlite://$work/data/dimos.db"
fi

start() { # port, apply tenants?
  local port=$1 apply=$2
  env -i PATH="$PATH" HOME="$HOME" \
    DIMOS_LISTEN="127.0.0.1:$port" DIMOS_DATA_DIR="$work/data" \
    DIMOS_DATABASE__URL="$DB_URL" DIMOS_LOG_FILTER=warn \
    DIMOS_HTTP__TRUSTED_PROXIES='["127.0.0.1/32"]' \
    DIMOS_TENANCY__APPLY_ON_START="$apply" \
    "$bin" >"$work/replica-$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "replica on $port did not start:"; cat "$work/replica-$port.log" >&2; exit 1
}
started=$(date +%s.%N)
start "${PORTS[0]}" "$work/tenants"
startup=$(python3 -c "import time; print(f'{time.time() - $started:.2f}')")
for p in "${PORTS[@]:1}"; do start "$p" ""; done
log "$(ls "$work/tenants"/*.toml | wc -l) municipalities, ${#PORTS[@]} replica(s) on $DB; first start (migrations and tenants) ${startup}s"

host=alimos.localhost
log "signing in citizens"
python3 bench/session.py "$host" "${PORTS[0]}" citizen-verified 20 /parking/apply/space >"$work/sessions.tsv" 2>"$work/session.err" \
  || python3 bench/session.py "$host" "${PORTS[0]}" citizen-verified 20 /parking/apply >"$work/sessions.tsv"

rows=()
cpu_ticks() { # total user+system ticks of the replicas
  local t=0
  for p in "${pids[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
  echo "$t"
}
rss_mb() { # the largest replica's resident memory, MB
  local m=0 r
  for p in "${pids[@]}"; do r=$(awk '/VmRSS/ {print $2}' "/proc/$p/status"); [ "$r" -gt "$m" ] && m=$r; done
  echo $((m / 1024))
}
# Runs wrk on every replica at once (the connections split between them),
# then adds one row: name, requests/s, p50, p99, errors, CPU %, RSS.
measure() { # name, script, path, connections[, sessions file; "" for none]
  local name=$1 script=$2 path=$3 conns=$4 n=${#PORTS[@]} sessions=${5-$work/sessions.tsv}
  local per=$(( (conns + n - 1) / n )) t0 t1 hz secs
  hz=$(getconf CLK_TCK)
  t0=$(cpu_ticks)
  local outs=()
  for p in "${PORTS[@]}"; do
    SESSIONS="$sessions" wrk -t1 -c"$per" -d"$DURATION" --latency -s "bench/$script" \
      -H "Host: $host:${PORTS[0]}" "http://127.0.0.1:$p$path" >"$work/wrk-$name-$p.txt" 2>&1 &
    outs+=("$work/wrk-$name-$p.txt")
  done
  wait "${!}" 2>/dev/null || true
  while pgrep -x wrk >/dev/null; do sleep 0.2; done
  t1=$(cpu_ticks)
  secs=${DURATION%s}
  rows+=("$(python3 bench/wrk_summary.py "$name" "$conns" "$(( (t1 - t0) * 100 / hz / secs ))" "$(rss_mb)" "${outs[@]}")")
  log "${rows[-1]}"
}

measure "Home page (public, anonymous)" get.lua / 50 ""
measure "Home page (signed in)" get.lua / 50
measure "Submission with 2 documents" submit.lua /parking/apply "$CONC"
server_rps=$(awk '/^Requests\/sec/ {s += $2} END {printf "%.1f", s}' "$work"/wrk-"Submission with 2 documents"-*.txt)

# The database's own limit for the same work: one submission's statements,
# captured from a replica as it ran them, replayed by pgbench (fresh ids,
# the counter's protocol number) with as many clients as the replicas hold
# connections, on the same database, for as long.
ratio=""
if [ "$DB" = postgres ]; then
  log "capturing one submission's statements for pgbench"
  env -i PATH="$PATH" HOME="$HOME" \
    DIMOS_LISTEN="127.0.0.1:18089" DIMOS_DATA_DIR="$work/data" \
    DIMOS_DATABASE__URL="$DB_URL" DIMOS_LOG_FILTER=warn \
    DIMOS_DATABASE__CAPTURE_STATEMENTS="$work/capture.sql" \
    "$bin" >"$work/capture.log" 2>&1 &
  cap=$!
  for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:18089/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  IFS=$'\t' read -r cookie csrf < <(head -1 "$work/sessions.tsv")
  python3 bench/replay.py submit "$host" 18089 "$cookie" "$csrf"
  kill "$cap"; wait "$cap" 2>/dev/null || true
  python3 bench/replay.py script "$work/capture.sql" "$work/replay.sql"
  per_pool=$(( $(nproc) * 4 )); [ "$per_pool" -lt 10 ] && per_pool=10; [ "$per_pool" -gt 50 ] && per_pool=50
  clients=$(( per_pool * ${#PORTS[@]} ))
  # -l: every transaction's latency, for pgbench's own p50 and p99.
  (cd "$work" && pgbench -n -M simple -c "$clients" -j "$(nproc)" -T "${DURATION%s}" -l --log-prefix=pgbench-log \
    -f "$work/replay.sql" "$DB_URL" >"$work/pgbench.txt" 2>&1) \
    || { cat "$work/pgbench.txt" >&2; exit 1; }
  tps=$(awk -F'= ' '/^tps/ {printf "%.1f", $2}' "$work/pgbench.txt")
  read -r p50 p99 < <(cat "$work"/pgbench-log* | python3 -c '
import sys
lat = sorted(int(l.split()[2]) for l in sys.stdin if l.strip())
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1000
print(f"{pick(0.5):.0f}", f"{pick(0.99):.0f}")')
  done_tx=$(awk -F': ' '/actually processed/ {print $2}' "$work/pgbench.txt")
  failed=$(awk '/number of failed/ {print $5}' "$work/pgbench.txt")
  rows+=("| The same SQL replayed by pgbench | $clients | ${tps} | ${p50} ms | ${p99} ms | ${failed:-0} of ${done_tx} | — | — |")
  log "${rows[-1]}"
  ratio=$(python3 -c "print(f'{100 * $server_rps / $tps:.0f}')")
  log "server ${server_rps}/s = ${ratio} % of pgbench's ${tps}/s"
fi

# The SQL of the run so far is what a submission costs; then the volume.
if [ "$DB" = postgres ]; then
  log "seeding 1,000,000 cases with their events, documents and messages"
  alimos=$(psql "$DB_URL" -Atqc "SELECT id FROM tenants WHERE slug = 'alimos'")
  citizen=$(psql "$DB_URL" -Atqc "SELECT id FROM accounts WHERE tenant_id = '$alimos' AND tax_id = '100000027'")
  seeded=$(date +%s)
  psql "$DB_URL" -q -v alimos="$alimos" -v citizen="$citizen" -v total=1000000 -f bench/seed-postgres.sql >/dev/null
  # A settled database, as in production: autovacuum catching up with
  # six million new rows would otherwise be measured instead of the pages.
  psql "$DB_URL" -qc "VACUUM ANALYZE"
  log "seeded in $(( $(date +%s) - seeded ))s: $(psql "$DB_URL" -Atqc 'SELECT COUNT(*) FROM cases') cases"
fi

measure "My applications" get.lua /cases 50
case_path=$(curl -fsS -H "Host: $host:${PORTS[0]}" -H "Cookie: $(head -1 "$work/sessions.tsv" | cut -f1)" \
  "http://127.0.0.1:${PORTS[0]}/cases" | grep -o '/cases/[0-9a-f-]\{36\}' | head -1)
measure "Case page" get.lua "$case_path" 50

# Staff: the technical service's queue (10,000 open tasks once seeded) and
# the protocol book searched by the municipal admin.
python3 bench/session.py "$host" "${PORTS[0]}" technical-employee 4 / >"$work/staff.tsv"
measure "Staff queue (available tasks)" get.lua "/staff/agenda?queue=available" 20 "$work/staff.tsv"

# Latency of one person's page (one connection per replica): the targets
# are about how long a page takes, not about a saturated machine.
measure "My applications, latency" get.lua /cases 2
measure "Staff queue, latency" get.lua "/staff/agenda?queue=available" 2 "$work/staff.tsv"
python3 bench/session.py "$host" "${PORTS[0]}" municipal-admin 4 / >"$work/admin.tsv"
measure "Protocol book search" get.lua "/staff/protocol?q=%CE%99%CE%9A%CE%A5" 20 "$work/admin.tsv"

# Sign-in: the whole browser flow (login, provider page and form,
# callback, first page), 400 people 20 at a time, on the first replica.
log "signing 400 people in"
t0=$(cpu_ticks)
IFS=$'\t' read -r s_rps s_p50 s_p99 s_err < <(python3 bench/session.py --load "$host" "${PORTS[0]}" citizen-verified 400 20)
rows+=("| Sign-in (whole flow, 5 requests) | 20 | $s_rps | $s_p50 ms | $s_p99 ms | $s_err of 400 | — | $(rss_mb) MB |")
log "${rows[-1]}"

# A large municipality's nursery placement and publication (PostgreSQL):
# 5,000 applications for 70 stations, the committee's two clicks timed.
nursery=""
if [ "$DB" = postgres ]; then
  log "nursery placement and publication: 5,000 applications, 70 stations"
  nursery=$(python3 bench/nursery.py "$host" "${PORTS[0]}" "$DB_URL" 5000 70 | grep '^NURSERY')
  log "$nursery"
fi

# A restart of the last replica on the full database: until it answers.
last=${#pids[@]}; kill "${pids[$((last - 1))]}"; wait "${pids[$((last - 1))]}" 2>/dev/null || true
unset "pids[$((last - 1))]"; pids=("${pids[@]}")
t0=$(date +%s.%N)
start "${PORTS[$((${#PORTS[@]} - 1))]}" ""
restart=$(python3 -c "import time; print(f'{time.time() - $t0:.2f}')")

# The numbers the submission run left behind: gap-free, nothing half-done.
if [ "$DB" = postgres ]; then
  q() { psql "$DB_URL" -Atqc "$1"; }
else
  q() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$work/data/dimos.db" "$1"; }
fi
# (The seeded cases are in the 2020 book; these are the run's own.)
run="process = 'parking.permit' AND protocol_year <> 2020"
cases=$(q "SELECT COUNT(*) FROM cases WHERE $run")
gaps=$(q "SELECT COUNT(*) FROM cases c WHERE $run AND protocol_number > 1 AND NOT EXISTS (SELECT 1 FROM cases d WHERE d.tenant_id = c.tenant_id AND d.protocol_year = c.protocol_year AND d.protocol_number = c.protocol_number - 1)")
half=$(q "SELECT COUNT(*) FROM cases c WHERE $run AND (SELECT COUNT(*) FROM documents d WHERE d.tenant_id = c.tenant_id AND d.case_id = c.id) <> 2")
rss_all=$(rss_mb)

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
version=""
if [ "$DB" = postgres ]; then version=" $(psql "$ADMIN_URL" -Atqc 'SHOW server_version')"; fi
machine="$(nproc) cores ($cpu), $(free -g | awk '/Mem:/ {print $2}') GB RAM, $(uname -sr); $DB$version"
table=$(
  echo "Measured $(date -u +%Y-%m-%d) by \`bench/run.sh\` ($DB, ${#PORTS[@]} replica(s), shipped defaults, wrk for $DURATION per row) on $machine."
  echo
  echo "| Load | Connections | Requests/s | p50 | p99 | Errors | CPU (all replicas) | RSS (largest replica) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}"
  echo
  if [ -n "$ratio" ]; then
    echo "Submissions: the server's ${server_rps} per second are **${ratio} %** of pgbench's ${tps} for the same statements (captured from the server; \`bench/replay.py\`)."
    echo
  fi
  if [ -n "$nursery" ]; then
    IFS=$'\t' read -r _ n_apps n_children n_stations n_run n_pub n_moved n_still n_told n_placed _ <<<"$nursery"
    echo "Nursery placement and publication ($n_apps applications, $n_children children, $n_stations stations; \`bench/nursery.py\`): the placement run answered in **${n_run} s**, the publication in **${n_pub} s**; $n_moved cases moved on ($n_still left waiting), $n_told families told, $n_placed children placed."
    echo
  fi
  filed_by="the server's"; [ "$DB" = postgres ] && filed_by="the server's and pgbench's"
  echo "After the run: $cases applications filed ($filed_by), $gaps protocol-number gaps, $half applications without exactly their 2 documents; 332 municipalities loaded; first start (migrations, 332 municipalities applied from files) ${startup}s, restart on the full database ${restart}s; largest replica ${rss_all} MB resident."
)
echo "$table"
if [ -z "${BENCH_NO_WRITE:-}" ]; then
  python3 bench/write_doc.py docs/performance.md "$DB" "$table"
  log "written to docs/performance.md"
fi
exit
}
