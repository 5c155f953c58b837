#!/usr/bin/env bash
# Checks the Kubernetes base as far as a machine without a cluster allows
# (infra/test.sh runs it after the tests):
#   - every resource the kustomization lists parses, with the kind it says;
#   - the ConfigMap and the example Secret together are a configuration
#     `dimos` accepts;
#   - the Deployment: probes on /readyz and /healthz at the port Dimos
#     listens on, the image's user, a read-only root with the data folder
#     mounted, a grace period longer than the drain and the shutdown grace,
#     no fewer replicas than asked for during a rollout;
#   - the Service and the PodDisruptionBudget select the Deployment's pods.
# With kubectl present, `kubectl kustomize` renders the base as well.
# CHECK_BIN is the binary to use (default: target/debug/dimos).
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${CHECK_BIN:-$PWD/target/debug/dimos}"
[ -x "$bin" ] || { echo "no dimos binary at $bin (cargo build first)" >&2; exit 1; }
if command -v kubectl >/dev/null; then kubectl kustomize infra/kubernetes >/dev/null; fi
python3 - "$bin" <<'PY'
import os, subprocess, sys
import yaml

bin = sys.argv[1]
base = "infra/kubernetes"
kust = yaml.safe_load(open(f"{base}/kustomization.yaml"))
docs = {}
for r in kust["resources"]:
    for d in yaml.safe_load_all(open(f"{base}/{r}")):
        docs[d["kind"]] = d
for kind in ("ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"):
    assert kind in docs, f"{base}: no {kind}"
environment = {**docs["ConfigMap"]["data"], **docs["Secret"]["stringData"]}
run = subprocess.run([bin, "schema", "citus"], env={"PATH": os.environ["PATH"], **environment},
                     capture_output=True, text=True)
if run.returncode != 0:
    sys.exit(f"{base}: the configuration is refused: {run.stderr.strip()}")
dep = docs["Deployment"]["spec"]
pod = dep["template"]["spec"]
c = pod["containers"][0]
port = int(environment["DIMOS_LISTEN"].rsplit(":", 1)[1])
ports = {p["name"]: p["containerPort"] for p in c["ports"]}
def probe(name, path):
    p = c[name]["httpGet"]
    assert p["path"] == path, f"{base}: {name} on {p['path']}, not {path}"
    assert ports.get(p["port"], p["port"]) == port, f"{base}: {name} not on port {port}"
probe("readinessProbe", "/readyz")
probe("livenessProbe", "/healthz")
probe("startupProbe", "/healthz")
assert pod["securityContext"]["runAsUser"] == 10001, "the image's user is 10001"
assert c["securityContext"]["readOnlyRootFilesystem"] is True
assert any(m["mountPath"] == environment["DIMOS_DATA_DIR"] for m in c["volumeMounts"]), \
    f"{base}: the data folder is not mounted (read-only root)"
assert pod["terminationGracePeriodSeconds"] > 3 + 20, f"{base}: the grace period ends before the drain"
assert dep["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
labels = dep["template"]["metadata"]["labels"]
assert dep["selector"]["matchLabels"].items() <= labels.items()
for kind, selector in (("Service", docs["Service"]["spec"]["selector"]),
                       ("PodDisruptionBudget", docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"])):
    assert selector.items() <= labels.items(), f"{base}: the {kind} selects no pod"
print(f"{base}: resources parse, configuration accepted, probes, user, grace period and selectors agree")
PY
