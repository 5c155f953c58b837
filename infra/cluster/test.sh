#!/usr/bin/env bash
# Runs the operations tests on the loopback cluster (starting it with
# up.sh unless CLUSTER_KEEP=1 says it is up):
#   1. custom domains over TLS: two municipalities' own domains get
#      certificates on demand (Caddy's internal CA) and serve their pages;
#      a domain that is not ours gets no certificate;
#   2. a rolling restart under continuous load: each of the three replicas
#      is stopped with SIGTERM and started again, in turn, while wrk loads
#      the proxy; not one request may fail;
#   3. an upgrade while citizens file applications (POST, two documents):
#      the replicas restart in turn, the second onto the next release
#      (this checkout plus one migration, built by build_next), applying
#      its migration while the others serve; every application
#      acknowledged, each acknowledged one filed once with both documents,
#      none filed unacknowledged, protocol numbers without gaps, every
#      message sent (its file in an outbox), no job failed or overdue;
#   4. the primary database fails (stopped hard) while citizens file: the
#      synchronous standby is promoted, the replicas restarted onto it;
#      citizens told to try again do, and the same checks hold on the new
#      primary: nothing acknowledged lost, nothing filed twice.
#   5. a municipality moves out: exported from the cluster (PostgreSQL, S3)
#      with the operator's commands and imported into a deployment on
#      SQLite and local files; its cases, documents and protocol entries
#      counted on both sides, its audit trail verified there.
# Results are printed; docs/operations.md records a run.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/cluster/lib.sh
[ "${CLUSTER_KEEP:-0}" = 1 ] || infra/cluster/up.sh
trap '[ "${CLUSTER_KEEP:-0}" = 1 ] || infra/cluster/down.sh' EXIT
CA="$CLUSTER_CA"

restart_replica() { # I [BINARY]: SIGTERM, wait for the exit, start (on BINARY), ready
  local i=$1 started stopped
  started=$(date +%s.%N)
  kill -TERM "$(cat "$CLUSTER_DIR/replica-$i.pid")"
  while kill -0 "$(cat "$CLUSTER_DIR/replica-$i.pid")" 2>/dev/null; do sleep 0.1; done
  stopped=$(date +%s.%N)
  start_replica "$@"
  wait_http "http://127.0.0.1:5552$i/readyz" 200 60
  log "   replica $i: drained and exited in $(printf '%.1f' "$(echo "$stopped - $started" | bc)") s, ready again on $(basename "$(cat "$CLUSTER_DIR/replica-$i.bin")")"
  sleep 3 # Caddy's health check sees it up again before the next one goes
}

rolling_restart() { # each replica in turn, on the release it runs
  local i
  for i in 1 2 3; do restart_replica "$i"; done
}

check_filed() { # TSV DATABASE_URL FILED_BEFORE: every application acknowledged and filed once
  local subs=$1 db=$2 filed_before=$3 total acked verdict lost unacknowledged half gaps
  total=$(wc -l <"$subs")
  acked=$(awk -F'\t' '$2 == 303' "$subs" | wc -l)
  log "   $total applications sent, $acked acknowledged; answers: $(cut -f2 "$subs" | sort | uniq -c | tr -s ' ' | tr '\n' ','); sent more than once: $(awk -F'\t' '$3 > 1' "$subs" | wc -l)"
  [ "$total" -gt 100 ] || fail "too few applications to tell ($total)"
  [ "$acked" = "$total" ] || fail "$((total - acked)) applications were not acknowledged"
  verdict=$(psql "$db" -v ON_ERROR_STOP=1 -Atq <<SQL
CREATE TEMP TABLE sent (submission uuid, status int, tries int);
\\copy sent FROM '$subs'
WITH k AS (SELECT id FROM tenants WHERE slug = 'kifisia'),
filed AS (SELECT s.submission, s.case_id FROM case_submissions s, k WHERE s.tenant_id = k.id),
docs AS (SELECT d.case_id, count(*) n FROM documents d, k WHERE d.tenant_id = k.id GROUP BY d.case_id),
book AS (SELECT count(*) n, max(number) - min(number) + 1 span FROM protocol_entries p, k
         WHERE p.tenant_id = k.id GROUP BY book, year)
SELECT (SELECT count(*) FROM sent WHERE status = 303 AND submission NOT IN (SELECT submission FROM filed))
    || ' ' || ((SELECT count(*) FROM case_submissions) - $filed_before
               - (SELECT count(*) FROM filed WHERE submission IN (SELECT submission FROM sent WHERE status = 303)))
    || ' ' || (SELECT count(*) FROM sent s JOIN filed f USING (submission) LEFT JOIN docs d USING (case_id) WHERE coalesce(d.n, 0) <> 2)
    || ' ' || (SELECT coalesce(sum(span - n), 0) FROM book);
SQL
)
  read -r lost unacknowledged half gaps <<<"$verdict"
  [ "$lost" = 0 ] || fail "$lost acknowledged applications are not filed"
  [ "$unacknowledged" = 0 ] || fail "$unacknowledged applications were filed that nobody was told about"
  [ "$half" = 0 ] || fail "$half applications lack one of their two documents"
  [ "$gaps" = 0 ] || fail "$gaps protocol numbers are missing"
}

check_delivered() { # DATABASE_URL: no message or job lost or stuck
  local db=$1 waiting sent dead missing=0 unsent failed overdue id
  local kifisia="tenant_id = (SELECT id FROM tenants WHERE slug = 'kifisia')"
  for _ in $(seq 1 120); do
    waiting=$(psql "$db" -Atc "SELECT count(*) FROM notifications WHERE $kifisia AND status IN ('pending', 'sending')")
    [ "$waiting" = 0 ] && break
    sleep 0.5
  done
  [ "$waiting" = 0 ] || fail "$waiting messages still not sent a minute later"
  dead=$(psql "$db" -Atc "SELECT count(*) FROM notifications WHERE $kifisia AND status = 'dead'")
  [ "$dead" = 0 ] || fail "$dead messages were given up"
  # Mail goes to files here: each message sent is a file in the outbox of
  # the replica that sent it.
  while read -r id; do
    compgen -G "$CLUSTER_DIR/replica-*/outbox/$id.eml" >/dev/null || missing=$((missing + 1))
  done < <(psql "$db" -Atc "SELECT provider_id FROM notifications WHERE $kifisia AND status = 'sent' AND channel = 'email'")
  sent=$(psql "$db" -Atc "SELECT count(*) FROM notifications WHERE $kifisia AND status = 'sent'")
  [ "$missing" = 0 ] || fail "$missing messages marked sent have no file in any outbox"
  # Each application filed is acknowledged to its citizen by a message.
  unsent=$(psql "$db" -Atc "SELECT count(*) FROM cases c WHERE $kifisia AND NOT EXISTS
    (SELECT 1 FROM notifications n WHERE n.tenant_id = c.tenant_id AND n.case_id = c.id AND n.status = 'sent')")
  [ "$unsent" = 0 ] || fail "$unsent applications have no message sent about them"
  failed=$(psql "$db" -Atc "SELECT count(*) FROM jobs WHERE status = 'failed'")
  overdue=$(psql "$db" -Atc "SELECT count(*) FROM jobs WHERE status = 'pending' AND run_at < now() - interval '1 minute'")
  [ "$failed" = 0 ] || fail "$failed jobs failed"
  [ "$overdue" = 0 ] || fail "$overdue jobs are overdue by more than a minute"
  log "   $sent messages sent, one for each application, each in an outbox, none waiting or given up; no job failed or overdue"
}

https_get() { # DOMAIN PATH → body on stdout; fails on a bad certificate
  curl -fsS --max-time 20 --resolve "$1:55443:127.0.0.1" --cacert "$CA" "https://$1:55443$2"
}

log "1. custom domains over TLS"
for pair in "kifisia.example:Δήμος Κηφισιάς" "www.kifisia.example:Δήμος Κηφισιάς" "marousi.example:Δήμος Αμαρουσίου"; do
  domain=${pair%%:*} name=${pair#*:}
  https_get "$domain" / | grep -q "$name" || fail "$domain did not serve $name over TLS"
  subject=$(openssl s_client -connect 127.0.0.1:55443 -servername "$domain" -CAfile "$CA" -verify_return_error </dev/null 2>/dev/null \
    | openssl x509 -noout -ext subjectAltName 2>/dev/null | tr -d ' \n')
  [ "${subject#*DNS:}" = "$domain" ] || fail "$domain: certificate for '$subject'"
  log "   $domain: certificate issued for it, page served"
done
if https_get unknown.example / >/dev/null 2>&1; then fail "unknown.example got a certificate"; fi
[ "$(curl -s -o /dev/null -w '%{http_code}' 'http://127.0.0.1:55521/tls/ask?domain=unknown.example')" = 404 ] \
  || fail "/tls/ask did not refuse unknown.example"
log "   unknown.example: no certificate (Dimos's /tls/ask answers 404)"

log "2. rolling restart of the three replicas under load"
# wrk names the host it connects to in SNI: "localhost" (the portal's
# name, so ours); the Host header picks the municipality.
out="$CLUSTER_DIR/wrk.txt"
wrk -t2 -c16 -d40s --latency -H "Host: kifisia.localhost:55443" -H "Accept-Encoding: gzip, deflate, br" \
  "https://localhost:55443/" >"$out" 2>&1 &
wrk_pid=$!
sleep 5
rolling_restart
wait "$wrk_pid"
cat "$out"
grep -q "Non-2xx or 3xx responses" "$out" && fail "some requests were answered with an error during the restarts"
grep -q "Socket errors" "$out" && fail "some connections failed during the restarts"
requests=$(awk '/requests in/ {print $1}' "$out")
[ "${requests:-0}" -gt 1000 ] || fail "too few requests to tell ($requests)"
log "   $requests requests during three restarts, not one failed"

log "3. an upgrade under load: citizens file applications while the replicas move to the next release"
# The next release carries one more migration. Replica 1 restarts on the
# release it runs; replica 2 on the next one, applying the migration while
# replicas 1 and 3 (the running release) serve on the new schema; then
# replica 3 and finally replica 1 move too.
build_next
subs="$CLUSTER_DIR/submissions.tsv"
db="postgres://postgres@127.0.0.1:55501/dimos"
[ "$(psql "$db" -Atc "SELECT count(*) FROM dimos_migrations WHERE name = 'upgrade_drill'")" = 0 ] \
  || fail "the running release already has the drill's migration (is $CLUSTER_BIN stale?)"
filed_before=$(psql "$db" -Atc "SELECT count(*) FROM case_submissions")
CLUSTER_CA="$CA" python3 infra/cluster/submit.py kifisia.localhost 50 8 "$subs" &
submit_pid=$!
sleep 8 # signed in and filing
restart_replica 1
restart_replica 2 "$CLUSTER_DIR/dimos-next"
grep -q '"upgrade_drill"' "$CLUSTER_DIR/replica-2.log" || fail "replica 2 did not apply the next release's migration"
restart_replica 3 "$CLUSTER_DIR/dimos-next"
restart_replica 1 "$CLUSTER_DIR/dimos-next"
wait "$submit_pid"
[ "$(psql "$db" -Atc "SELECT count(*) FROM dimos_migrations WHERE name = 'upgrade_drill'")" = 1 ] \
  || fail "the migration is not recorded once"
[ "$(psql "$db" -Atc "SELECT count(*) FROM information_schema.columns WHERE table_name = 'cases' AND column_name = 'upgrade_drill'")" = 1 ] \
  || fail "the migration's column is not there"
check_filed "$subs" "$db" "$filed_before"
check_delivered "$db"
log "   every acknowledged application filed once with both documents, none unacknowledged, no protocol gaps;"
log "   $NEXT_MIGRATION applied once, by replica 2, while the running release served on"
# From here on the operator's commands are the next release's too.
CLUSTER_BIN="$CLUSTER_DIR/dimos-next"

log "4. the primary fails: the standby is promoted and the replicas follow"
subs="$CLUSTER_DIR/failover.tsv"
filed_before=$(psql "$db" -Atc "SELECT count(*) FROM case_submissions")
# Citizens told to try again do (the same form, the same key).
CLUSTER_CA="$CA" python3 infra/cluster/submit.py kifisia.localhost 45 8 "$subs" 90 &
submit_pid=$!
sleep 10
crash=$(date +%s.%N)
as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/pg-primary" -m immediate stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$CLUSTER_DIR/pg-standby" -w promote >/dev/null
db="postgres://postgres@127.0.0.1:55502/dimos"
[ "$(psql "$db" -Atc 'select pg_is_in_recovery()')" = f ] || fail "the standby was not promoted"
log "   primary stopped hard, standby promoted in $(printf '%.1f' "$(echo "$(date +%s.%N) - $crash" | bc)") s; replicas restarted onto it:"
export CLUSTER_DATABASE_URL="$db"
rolling_restart
wait "$submit_pid"
check_filed "$subs" "$db" "$filed_before"
check_delivered "$db"
log "   every application acknowledged in the end and filed once on the new primary, nothing acknowledged lost"
log "5. a municipality moves out of the cluster, to SQLite and local files"
away="$CLUSTER_DIR/elsewhere"
mkdir -p "$away"
elsewhere() { # the other deployment's commands
  env -u DIMOS_CONFIG DATABASE_URL="sqlite://$away/dimos.db?mode=rwc" DIMOS_DATA_DIR="$away" \
    DIMOS_TENANCY__APPLY_ON_START= "$CLUSTER_BIN" "$@"
}
here() { # the cluster's, as its operator runs them
  DIMOS_CONFIG=infra/cluster/dimos.toml DATABASE_URL="$db" DIMOS_SIGNING__KEY="$CLUSTER_SIGNING_KEY" \
    DIMOS_TENANCY__APPLY_ON_START= "$CLUSTER_BIN" "$@"
}
key=$(elsewhere tenants transfer-key)
here tenants export kifisia --to "$key" --out "$CLUSTER_DIR/kifisia.tar.gz" >&2
elsewhere tenants import "$CLUSTER_DIR/kifisia.tar.gz" >&2
tenant=$(psql "$db" -Atc "SELECT id FROM tenants WHERE slug = 'kifisia'")
for table in cases documents protocol_entries case_events audit_log; do
  there=$(psql "$db" -Atc "SELECT count(*) FROM $table WHERE tenant_id = '$tenant'")
  moved=$(python3 -c "import sqlite3, uuid, sys; c = sqlite3.connect(sys.argv[1]); \
print(c.execute('SELECT count(*) FROM $table WHERE tenant_id = ?', (uuid.UUID(sys.argv[2]).bytes,)).fetchone()[0])" \
    "$away/dimos.db" "$tenant")
  [ "$there" = "$moved" ] || fail "$table: $there rows in the cluster, $moved moved"
  log "   $table: $moved rows, the same on both sides"
done
objects=$(find "$away/objects/$(echo "$tenant" | tr -d -)" -type f | wc -l)
[ "$objects" -gt 0 ] || fail "no document moved"
elsewhere audit verify kifisia >&2 || fail "the moved audit trail does not verify"
log "   $objects documents moved; the audit trail verifies there"
log "all cluster tests passed"
