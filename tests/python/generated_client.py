#!/usr/bin/env python3
"""A client generated from the served OpenAPI document by an independent
generator (PyPI openapi-python-client), used as integrators would:

    generated_client.py SPEC BASE_URL HOST CLIENT_TOKEN CASE_ID CITIZEN_TOKEN WORKDIR

Generates the package into WORKDIR. As the municipality's system (a
client's token): lists the cases, finds CASE_ID among them, reads the case
and its timeline. As a citizen's own app (the person's token): uploads a
document, applies for a certificate naming it, lists its own cases and
reads the new case's timeline. Prints what it read as JSON. Any failure of
the generator, the generated code or the server's answers against the
generated models exits non-zero.
"""
import importlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

spec, base, host, token, case_id, citizen, workdir = sys.argv[1:8]
out = Path(workdir) / "generated"
subprocess.run(
    [sys.executable, "-m", "openapi_python_client", "generate", "--path", spec,
     "--output-path", str(out), "--meta", "none", "--overwrite"],
    check=True,
)
sys.path.insert(0, str(out.parent))
package = importlib.import_module("generated")
types = importlib.import_module("generated.types")
models = importlib.import_module("generated.models")
list_cases = importlib.import_module("generated.api.cases.list_cases")
get_case = importlib.import_module("generated.api.cases.get_case")
timeline = importlib.import_module("generated.api.cases.get_case_timeline")
upload = importlib.import_module("generated.api.applying.upload_document")
create = importlib.import_module("generated.api.applying.create_case")


def client_for(bearer):
    return package.AuthenticatedClient(
        base_url=base, token=bearer, headers={"Host": host}, raise_on_unexpected_status=True
    )


system = client_for(token)
listed = list_cases.sync(client=system, limit=100)
ids = [str(c.id) for c in listed.items]
assert case_id in ids, (case_id, ids)
case = get_case.sync(client=system, id=uuid.UUID(case_id))
events = timeline.sync(client=system, id=uuid.UUID(case_id))

app = client_for(citizen)
bill = b"%PDF-1.7\n% generated client\n"
document = upload.sync(
    client=app,
    body=models.Upload(
        kind="residence-proof",
        file=types.File(payload=bill, file_name="bill.pdf", mime_type="application/pdf"),
    ),
    idempotency_key="python-bill",
)
data = models.NewApplicationData.from_dict({
    "kind": "residence",
    "father_name": "Νικόλαος",
    "birth_date": "1979-11-30",
    "purpose": "για τον παιδικό σταθμό",
})
filed = create.sync(
    client=app,
    body=models.NewApplication(
        service="certificates.request", data=data, documents=[document.id]
    ),
    idempotency_key="python-apply",
)
own = list_cases.sync(client=app, limit=100)
own_events = timeline.sync(client=app, id=filed.id)
print(json.dumps({
    "listed": ids,
    "service": case.service,
    "protocol": case.protocol,
    "events": [e.kind for e in events],
    "document_sha256": document.sha256,
    "filed": str(filed.id),
    "filed_protocol": filed.protocol,
    "own": [str(c.id) for c in own.items],
    "own_events": [e.kind for e in own_events],
}))
