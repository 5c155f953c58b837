#!/usr/bin/env bash
# Runs the operations tests on the loopback cluster (starting it with
# up.sh unless CLUSTER_KEEP=1 says it is up):
#   1. custom domains over TLS: two municipalities' own domains get
#      certificates on demand (Caddy's internal CA) and serve their pages;
#      a domain that is not ours gets no certificate;
#   2. a rolling restart under continuous load: each of the three replicas
#      is stopped with SIGTERM and started again, in turn, while wrk loads
#      the proxy; not one request may fail.
# Results are printed; docs/operations.md records a run.
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/cluster/lib.sh
[ "${CLUSTER_KEEP:-0}" = 1 ] || infra/cluster/up.sh
trap '[ "${CLUSTER_KEEP:-0}" = 1 ] || infra/cluster/down.sh' EXIT
CA="$CLUSTER_DIR/caddy/pki/authorities/local/root.crt"

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
for i in 1 2 3; do
  started=$(date +%s.%N)
  kill -TERM "$(cat "$CLUSTER_DIR/replica-$i.pid")"
  while kill -0 "$(cat "$CLUSTER_DIR/replica-$i.pid")" 2>/dev/null; do sleep 0.1; done
  stopped=$(date +%s.%N)
  start_replica "$i"
  wait_http "http://127.0.0.1:5552$i/readyz" 200 60
  log "   replica $i: drained and exited in $(printf '%.1f' "$(echo "$stopped - $started" | bc)") s, ready again"
  sleep 3 # Caddy's health check sees it up again before the next one goes
done
wait "$wrk_pid"
cat "$out"
grep -q "Non-2xx or 3xx responses" "$out" && fail "some requests were answered with an error during the restarts"
grep -q "Socket errors" "$out" && fail "some connections failed during the restarts"
requests=$(awk '/requests in/ {print $1}' "$out")
[ "${requests:-0}" -gt 1000 ] || fail "too few requests to tell ($requests)"
log "   $requests requests during three restarts, not one failed"
log "all cluster tests passed"
