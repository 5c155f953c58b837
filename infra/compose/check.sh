#!/usr/bin/env bash
# Checks the compose deployment as far as a machine without a container
# engine allows (infra/test.sh runs it after the tests):
#   - the Caddyfile: `caddy validate`;
#   - compose.yaml: every image pinned, the Dimos replicas built from
#     infra/container/Containerfile, at least two of them, a stop grace
#     period longer than the drain and the shutdown grace;
#   - each replica's environment (with .env.example's values) is a
#     configuration `dimos` accepts (it validates every setting and exits
#     non-zero on any mistake).
# CHECK_BIN is the binary to use (default: target/debug/dimos).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${CHECK_BIN:-$PWD/target/debug/dimos}"
[ -x "$bin" ] || { echo "no dimos binary at $bin (cargo build first)" >&2; exit 1; }
command -v caddy >/dev/null || { echo "caddy is missing: apt-get install caddy" >&2; exit 1; }
out=$(caddy validate --config infra/compose/Caddyfile --adapter caddyfile 2>&1) \
  || { echo "infra/compose/Caddyfile: $out" >&2; exit 1; }
python3 - "$bin" <<'PY'
import os, re, subprocess, sys
import yaml

bin = sys.argv[1]
env = dict(
    line.split("=", 1)
    for line in open("infra/compose/.env.example").read().splitlines()
    if line and not line.startswith("#")
)

def subst(value):
    def one(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        if name in env:
            return env[name]
        if op == ":-":
            return arg
        sys.exit(f"infra/compose: ${{{name}}} is required and .env.example does not set it")
    return re.sub(r"(?<!\$)\$\{([A-Z_]+)(?:(:[-?])([^}]*))?\}", one, value)

services = yaml.safe_load(open("infra/compose/compose.yaml"))["services"]
for needed in ("postgres", "minio", "mailpit", "caddy"):
    assert needed in services, f"infra/compose: no {needed} service"
for name, s in services.items():
    image = s.get("image", "")
    if ":" not in image or image.endswith(":latest"):
        sys.exit(f"infra/compose: {name}'s image {image!r} is not pinned")
replicas = [n for n, s in services.items() if "build" in s]
if len(replicas) < 2:
    sys.exit(f"infra/compose: {len(replicas)} Dimos replica(s); at least two")
for name in replicas:
    s = services[name]
    if s["build"]["dockerfile"] != "infra/container/Containerfile":
        sys.exit(f"infra/compose: {name} is not built from infra/container/Containerfile")
    grace = int(s["stop_grace_period"].rstrip("s"))
    if grace <= 3 + 20:
        sys.exit(f"infra/compose: {name} stops after {grace}s, before the drain and shutdown grace end")
    environment = {k: subst(str(v)) for k, v in s["environment"].items()}
    run = subprocess.run(
        [bin, "schema", "citus"],
        env={"PATH": os.environ["PATH"], **environment},
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        sys.exit(f"infra/compose: {name}'s environment is refused: {run.stderr.strip()}")
print(f"infra/compose: Caddyfile valid, images pinned, {len(replicas)} replicas' environment accepted")
PY
