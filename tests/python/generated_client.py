#!/usr/bin/env python3
"""A client generated from the served OpenAPI document by an independent
generator (PyPI openapi-python-client), used as an integrator would:

    generated_client.py SPEC BASE_URL HOST TOKEN CASE_ID WORKDIR

Generates the package into WORKDIR, lists the cases with it, finds CASE_ID
among them, reads the case and its timeline, and prints what it read as
JSON. Any failure of the generator, the generated code or the server's
answers against the generated models exits non-zero.
"""
import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

spec, base, host, token, case_id, workdir = sys.argv[1:7]
out = Path(workdir) / "generated"
subprocess.run(
    [sys.executable, "-m", "openapi_python_client", "generate", "--path", spec,
     "--output-path", str(out), "--meta", "none", "--overwrite"],
    check=True,
)
sys.path.insert(0, str(out.parent))
package = importlib.import_module("generated")
api = importlib.import_module("generated.api.cases.list_cases")
get_case = importlib.import_module("generated.api.cases.get_case")
timeline = importlib.import_module("generated.api.cases.get_case_timeline")

client = package.AuthenticatedClient(
    base_url=base, token=token, headers={"Host": host}, raise_on_unexpected_status=True
)
listed = api.sync(client=client, limit=100)
ids = [str(c.id) for c in listed.items]
assert case_id in ids, (case_id, ids)
case = get_case.sync(client=client, id=uuid.UUID(case_id))
events = timeline.sync(client=client, id=uuid.UUID(case_id))
print(json.dumps({
    "listed": ids,
    "service": case.service,
    "protocol": case.protocol,
    "events": [e.kind for e in events],
}))
