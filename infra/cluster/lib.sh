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
  cp "$CLUSTER_BIN" "$CLUSTER_DIR/dimos-current"
}

# The next release, for the upgrade drill: this checkout plus one platform
# migration, built from a copy of the tree (tracked and new files). The
# migration expands (a nullable column): the running release neither reads
# nor writes it, as docs/operator-guide.md's rule requires. The binary goes
# to CLUSTER_DIR/dimos-next.
#
# Its own target folder, seeded with a copy of this checkout's: Cargo
# names our crates' artifacts the same from any folder and checks their
# freshness by the modification times of files relative to each crate, so
# a build from the copy into this checkout's target folder would be taken
# for this checkout's own. The copy's sources are extracted with fresh
# times (tar -m): our crates are compiled again there, the rest is reused.
build_next() {
  local src="$CLUSTER_DIR/next-src" out="$CLUSTER_DIR/next-target"
  local target="${CARGO_TARGET_DIR:-$PWD/target}" profile flags=() n
  case "$CLUSTER_BIN" in
    *target/debug/dimos) profile=debug ;;
    *) profile=release flags=(--release) ;;
  esac
  rm -rf "$src" "$out" && mkdir -p "$src" "$out/$profile"
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xmf - -C "$src"
  n=$(( $(find migrations/postgres -name '[0-9]*.sql' | wc -l) + 1 ))
  NEXT_MIGRATION=$(printf '%04d_upgrade_drill' "$n")
  for dialect in postgres sqlite; do
    echo "-- The upgrade drill's migration (infra/cluster): expand only." \
      >"$src/migrations/$dialect/$NEXT_MIGRATION.sql"
    echo "ALTER TABLE cases ADD COLUMN upgrade_drill TEXT;" >>"$src/migrations/$dialect/$NEXT_MIGRATION.sql"
  done
  python3 - "$src/platform/db/src/lib.rs" "$n" "$NEXT_MIGRATION" <<'PY'
import sys
path, n, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = open(path).read()
start = text.index("pub const PLATFORM_MIGRATIONS")
end = text.index("\n    ],\n};", start)
entry = f"""
        migrate::Migration {{
            version: {n},
            name: "upgrade_drill",
            postgres: include_str!("../../../migrations/postgres/{name}.sql"),
            sqlite: include_str!("../../../migrations/sqlite/{name}.sql"),
        }},"""
open(path, "w").write(text[:end] + entry + text[end:])
PY
  for part in deps build .fingerprint; do
    [ -d "$target/$profile/$part" ] && cp -a "$target/$profile/$part" "$out/$profile/"
  done
  log "building the next release (one more migration, $NEXT_MIGRATION) in $src"
  (cd "$src" && CARGO_TARGET_DIR="$out" cargo build "${flags[@]}" --quiet -p dimos-server --bin dimos) \
    || fail "the next release did not build"
  cp "$out/$profile/dimos" "$CLUSTER_DIR/dimos-next"
  rm -rf "$out"
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

# The release each replica runs is a copy in CLUSTER_DIR (replica-N.bin
# names it), so that building another release (the upgrade drill) does not
# change what a running replica restarts on.
start_replica() { # I [BINARY]: on BINARY from now on, else on what it ran
  local i=$1 bin
  bin=${2:-$(cat "$CLUSTER_DIR/replica-$i.bin" 2>/dev/null || echo "$CLUSTER_DIR/dimos-current")}
  echo "$bin" >"$CLUSTER_DIR/replica-$i.bin"
  mkdir -p "$CLUSTER_DIR/replica-$i"
  DIMOS_CONFIG=infra/cluster/dimos.toml \
  DATABASE_URL="${CLUSTER_DATABASE_URL:-postgres://postgres@127.0.0.1:55501/dimos}" \
  DIMOS_LISTEN="127.0.0.1:5552$i" \
  DIMOS_DATA_DIR="$CLUSTER_DIR/replica-$i" \
  DIMOS_IDENTITY__CA_FILE="$CLUSTER_CA" \
  DIMOS_SIGNING__KEY="$CLUSTER_SIGNING_KEY" \
    start_bg "replica-$i" "$bin" serve
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
