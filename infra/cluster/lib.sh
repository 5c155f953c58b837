# Shared by infra/cluster's scripts (sourced, from the repository's root).
CLUSTER_DIR="${CLUSTER_DIR:-$PWD/target/cluster}"
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
CLUSTER_BIN="${CLUSTER_BIN:-$PWD/target/release/dimos}"
CLUSTER_CA="$CLUSTER_DIR/caddy/pki/authorities/local/root.crt"
# One deployment key for every replica (and the operator's commands): each
# replica making its own in its data folder could not open the others'
# signing keys. A fixed one: this cluster is a test's.
CLUSTER_SIGNING_KEY="Y2x1c3Rlci1kZXBsb3ltZW50LWtleS0zMi1ieXRlcyE="

log() { printf '\033[1m[cluster]\033[0m %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }


need_tools() {
  local missing=()
  command -v caddy >/dev/null || missing+=(caddy)
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} with apt"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  python3 -c 'import moto.server' 2>/dev/null \
    || python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
  [ -n "$PG_BIN" ] || fail "PostgreSQL's programs are not installed (apt-get install postgresql)"
}

build_dimos() {
  if [ "$CLUSTER_BIN" = "$PWD/target/release/dimos" ]; then
    log "building the release binary"
    cargo build --release --quiet -p dimos-server
  fi
  [ -x "$CLUSTER_BIN" ] || fail "no binary at $CLUSTER_BIN"
}

pg_init() {
  mkdir -p "$1"
  [ "$(id -u)" = 0 ] && chown postgres "$1" "$CLUSTER_DIR"
  as_pg "$PG_BIN/initdb" -D "$1" -U postgres -A trust --no-sync >/dev/null
}

pg_start() {
  [ "$(id -u)" = 0 ] && chown -R postgres "$1"
  as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$1/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $2 -k $CLUSTER_DIR -c max_connections=200" start >/dev/null
}

# start_bg NAME COMMAND…: runs in the background, pid in NAME.pid, output in NAME.log.
start_bg() {
  local name=$1; shift
  "$@" >"$CLUSTER_DIR/$name.log" 2>&1 &
  echo $! >"$CLUSTER_DIR/$name.pid"
}

start_replica() {
  local i=$1
  mkdir -p "$CLUSTER_DIR/replica-$i"
  DIMOS_CONFIG=infra/cluster/dimos.toml \
  DATABASE_URL="${CLUSTER_DATABASE_URL:-postgres://postgres@127.0.0.1:55501/dimos}" \
  DIMOS_LISTEN="127.0.0.1:5552$i" \
  DIMOS_DATA_DIR="$CLUSTER_DIR/replica-$i" \
  DIMOS_IDENTITY__CA_FILE="$CLUSTER_CA" \
  DIMOS_SIGNING__KEY="$CLUSTER_SIGNING_KEY" \
    start_bg "replica-$i" "$CLUSTER_BIN" serve
}

# wait_http URL STATUS SECONDS
wait_http() {
  local i
  for i in $(seq 1 $(( $3 * 10 ))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 did not answer $2 within $3 s"
}
