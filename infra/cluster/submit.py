#!/usr/bin/env python3
"""Citizens filing parking applications (two documents each) through the
proxy over HTTPS, back to back, as browsers do: signed in through the
development identity provider, the form's CSRF token, a new idempotency key
per application, the same-origin headers.

    submit.py HOST SECONDS WORKERS OUT.tsv [TRIES]

OUT.tsv gets one line per application: its idempotency key, the status it
was last answered with (0 when the connection failed) and how many times
it was sent. With TRIES above 1, an application answered 502, 503 or 504
or not at all is sent again with the same key a second later, as a citizen
told to try again does, up to TRIES times. Only the
standard library; the CA of the proxy comes from CLUSTER_CA.
"""
import http.client
import os
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

PORT = 55443
_getaddrinfo = socket.getaddrinfo


def _loopback(host, *args, **kwargs):
    # The cluster's names (*.localhost, *.example) are all this machine.
    if host == "localhost" or host.endswith((".localhost", ".example")):
        host = "127.0.0.1"
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _loopback
CONTEXT = ssl.create_default_context(cafile=os.environ["CLUSTER_CA"])


def request(host, method, path, cookies, body=None, content_type=None):
    c = http.client.HTTPSConnection(host, PORT, context=CONTEXT, timeout=60)
    headers = {
        "Host": f"{host}:{PORT}",
        "Accept": "text/html",
        "Sec-Fetch-Site": "same-origin",
    }
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        headers["Content-Type"] = content_type or "application/x-www-form-urlencoded"
        headers["Origin"] = f"https://{host}:{PORT}"
    try:
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read().decode("utf-8", "replace")
    finally:
        c.close()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
    return r.status, r.getheader("Location"), data


def split(url, host):
    u = urllib.parse.urlsplit(url)
    return (u.hostname or host), u.path + ("?" + u.query if u.query else "")


def sign_in(host, person):
    cookies = {}
    status, loc, _ = request(host, "GET", "/auth/login?next=/", cookies)
    assert status == 303, f"login: {status}"
    idp, authorize = split(loc, host)
    status, _, _ = request(idp, "GET", authorize, cookies)
    assert status == 200, f"provider page: {status}"
    path, _, query = authorize.partition("?")
    body = urllib.parse.urlencode(urllib.parse.parse_qsl(query) + [("person", person)])
    status, loc, _ = request(idp, "POST", path, cookies, body)
    assert status == 303, f"provider form: {status}"
    while loc:
        h, p = split(loc, host)
        status, loc, _ = request(h, "GET", p, cookies)
    # The first step of the form carries the CSRF token (the whole form
    # posted at once to /parking/apply is the one-page path browsers
    # without JavaScript may take too).
    status, _, html = request(host, "GET", "/parking/apply/space", cookies)
    assert status == 200, f"form: {status}"
    return cookies, re.search(r'name="_csrf" value="([^"]+)"', html).group(1)


BOUNDARY = "----dimoscluster7MA4YWxkTrZu0gW"


def multipart(fields, files):
    out = []
    for name, value in fields:
        out.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, filename, data in files:
        out.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: application/pdf\r\n\r\n".encode() + data + b"\r\n"
        )
    out.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


RETRY = (0, 502, 503, 504)


def main():
    host, seconds, workers, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    retries = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    sessions = [sign_in(host, "citizen-verified") for _ in range(workers)]
    results, lock = [], threading.Lock()
    deadline = time.monotonic() + seconds

    def work(i):
        cookies, csrf = sessions[i]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            key = str(uuid.uuid4())
            plate = f"ΙΚΥ-{(i * 1000 + n) % 9000 + 1000}"
            body = multipart(
                [("_csrf", csrf), ("_submission", key), ("full_name", "Γιώργος Νικολάου"),
                 ("email", "giorgos@example.gr"), ("mobile", "69 1234 5678"),
                 ("location", "Κασσαβέτη 10, Κηφισιά"), ("plate", plate), ("delivery", "pickup")],
                [("doc-disability-certificate", "kepa.pdf", b"%PDF-1.7\n% KEPA " + plate.encode() + b"\n" + b"x" * 20000),
                 ("doc-vehicle-registration", "adeia.pdf", b"%PDF-1.7\n% adeia " + plate.encode() + b"\n" + b"y" * 20000)],
            )
            # As a citizen does when told to try again (503), or when the
            # answer never came: the same form, so the same key, again.
            tries = 0
            while True:
                tries += 1
                try:
                    status, _, _ = request(host, "POST", "/parking/apply", dict(cookies), body,
                                           f"multipart/form-data; boundary={BOUNDARY}")
                except (OSError, http.client.HTTPException):
                    status = 0
                if status not in RETRY or tries >= retries:
                    break
                time.sleep(1)
            with lock:
                results.append((key, status, tries))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        for key, status, tries in results:
            f.write(f"{key}\t{status}\t{tries}\n")


if __name__ == "__main__":
    main()
