#!/usr/bin/env python3
"""Signs people in through the development identity provider, as a browser
does (login, the provider's page, its form, the callback), and prints one
line per session: the cookie header and the CSRF token of `form_path`.

    session.py HOST PORT PERSON COUNT FORM_PATH
    session.py --load HOST PORT PERSON COUNT WORKERS   # sign-ins/s, p50, p99, errors

Only the standard library: the harness needs nothing installed.
"""
import http.client
import re
import sys
import urllib.parse


def request(port, host, method, path, cookies, body=None, xff=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": f"{host}:{port}", "Accept": "text/html", "Sec-Fetch-Site": "same-origin"}
    if xff:
        # As the TLS proxy in front says who the client is (the harness
        # trusts loopback as that proxy): a crowd, not one address.
        headers["X-Forwarded-For"] = xff
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        headers["Origin"] = f"http://{host}:{port}"
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read().decode("utf-8", "replace")
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
    return r.status, r.getheader("Location"), data


def local(url):
    """The path of an absolute URL on our own server (any host name)."""
    u = urllib.parse.urlsplit(url)
    return (u.hostname or "", u.path + ("?" + u.query if u.query else ""))


def sign_in(host, port, person, form_path, xff=None):
    cookies = {}
    status, loc, _ = request(port, host, "GET", "/auth/login?next=/", cookies, xff=xff)
    assert status == 303, f"login: {status}"
    idp_host, authorize = local(loc)
    status, _, _ = request(port, idp_host, "GET", authorize, cookies, xff=xff)
    assert status == 200, f"provider page: {status}"
    path, _, query = authorize.partition("?")
    form = urllib.parse.parse_qsl(query) + [("person", person)]
    body = urllib.parse.urlencode(form)
    status, loc, _ = request(port, idp_host, "POST", path, cookies, body, xff=xff)
    assert status == 303, f"provider form: {status}"
    while loc:
        h, p = local(loc) if loc.startswith("http") else (host, loc)
        status, loc, html = request(port, h or host, "GET", p, cookies, xff=xff)
    status, _, html = request(port, host, "GET", form_path, cookies, xff=xff)
    assert status == 200, f"{form_path}: {status}"
    m = re.search(r'name="_csrf" value="([^"]+)"', html)
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return cookie, m.group(1) if m else "-"


def load(host, port, person, count, workers):
    """Signs `count` people in, `workers` at a time; prints a table row."""
    import concurrent.futures
    import time

    def one(i):
        t = time.perf_counter()
        try:
            sign_in(host, port, person, "/", xff=f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}")
            return time.perf_counter() - t, True
        except Exception:  # noqa: BLE001 - an error is counted, not fatal
            return time.perf_counter() - t, False

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - start
    times = sorted(r[0] * 1000 for r in results)
    errors = sum(1 for r in results if not r[1])
    pct = lambda p: times[min(len(times) - 1, int(len(times) * p))]
    return count / elapsed, pct(0.5), pct(0.99), errors


def main():
    if sys.argv[1] == "--load":
        host, port, person, count, workers = sys.argv[2:7]
        rps, p50, p99, errors = load(host, int(port), person, int(count), int(workers))
        print(f"{rps:.1f}\t{p50:.1f}\t{p99:.1f}\t{errors}")
        return
    import random

    host, port, person, count, form_path = sys.argv[1:6]
    for _ in range(int(count)):
        # Each person from an address of their own, as through the proxy.
        xff = "10.200.%d.%d" % (random.randrange(256), random.randrange(1, 255))
        cookie, csrf = sign_in(host, int(port), person, form_path, xff=xff)
        print(f"{cookie}\t{csrf}")


if __name__ == "__main__":
    main()
