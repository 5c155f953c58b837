#!/usr/bin/env bash
# Checks the systemd artefacts as far as a machine without a running
# systemd allows (infra/test.sh runs it after the tests):
#   - `systemd-analyze verify`: the unit's syntax, every directive known;
#   - `systemd-analyze security --offline`: its exposure score at most 2.0
#     ("OK"; 10 is an unconfined service);
#   - the environment file is a configuration `dimos` accepts (it loads and
#     validates every setting and exits non-zero on any mistake).
# CHECK_BIN is the binary to use (default: target/debug/dimos, which the
# tests build).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${CHECK_BIN:-$PWD/target/debug/dimos}"
[ -x "$bin" ] || { echo "no dimos binary at $bin (cargo build first)" >&2; exit 1; }
command -v systemd-analyze >/dev/null || {
  echo "systemd-analyze is missing: apt-get install systemd" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The unit names the installed paths; check it against this binary, and
# without /etc/dimos on this machine.
sed -e "s|/usr/local/bin/dimos|$bin|" -e "s|EnvironmentFile=/etc/dimos/dimos.env|EnvironmentFile=-/etc/dimos/dimos.env|" \
  infra/systemd/dimos.service >"$work/dimos.service"
# verify exits 0 on an unknown directive, only saying so: any word is a failure.
said=$(systemd-analyze verify "$work/dimos.service" 2>&1) || true
[ -z "$said" ] || { echo "systemd-analyze verify: $said" >&2; exit 1; }
score=$(systemd-analyze security --offline=true "$work/dimos.service" 2>/dev/null \
  | sed -n 's/.*Overall exposure level for dimos.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || { echo "systemd-analyze security gave no score" >&2; exit 1; }
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || { echo "dimos.service exposure $score > 2.0" >&2; exit 1; }
# shellcheck disable=SC2046
env -i PATH="$PATH" $(grep -v '^#' infra/systemd/dimos.env | grep .) "$bin" schema citus >/dev/null
echo "infra/systemd: unit verified, exposure $score, environment file accepted"
