#!/usr/bin/env python3
"""A large municipality's nursery placement and publication, end to end.

    nursery.py HOST PORT DB_URL [APPLICATIONS] [STATIONS]

The nursery department sets up a school year with STATIONS stations (70)
through the pages; one family applies through the form and the committee
checks it; the harness then copies that checked application (its case,
its open task, the family's account) to APPLICATIONS families (5,000) with
SQL, each with its own stations in its own order, its own points and
children of both age groups, and closes the application window. It then
times what the committee does: the placement run (a click) and the
publication (a click), and checks that every family's case moved on and
its message is queued. It prints one table row per click and the total.

Only the standard library and psql: the harness needs nothing installed.
"""
import re
import subprocess
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from session import request, sign_in  # noqa: E402


def form_post(port, host, path, cookie, fields):
    cookies = dict(kv.split("=", 1) for kv in cookie.split("; "))
    body = urllib.parse.urlencode(fields)
    return request(port, host, "POST", path, cookies, body)


def get(port, host, path, cookie):
    cookies = dict(kv.split("=", 1) for kv in cookie.split("; "))
    return request(port, host, "GET", path, cookies)


def multipart(port, host, path, cookie, fields, files):
    import http.client

    b = "----dimosbenchNurseryBoundary"
    parts = []
    for k, v in fields:
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n')
    for k, name in files:
        parts.append(f'--{b}\r\nContent-Disposition: form-data; name="{k}"; filename="{name}"\r\n'
                     f"Content-Type: application/pdf\r\n\r\n%PDF-1.7\n% {name}\n\r\n")
    body = ("".join(parts) + f"--{b}--\r\n").encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("POST", path, body=body, headers={
        "Host": f"{host}:{port}", "Cookie": cookie, "Origin": f"http://{host}:{port}",
        "Content-Type": f"multipart/form-data; boundary={b}", "Sec-Fetch-Site": "same-origin"})
    r = c.getresponse()
    r.read()
    return r.status, r.getheader("Location")


def csrf_of(html):
    return re.search(r'name="_csrf" value="([^"]+)"', html).group(1)


def psql(url, sql, *args):
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atq", *args, "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def main():
    host, port, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    total = int(sys.argv[4]) if len(sys.argv) > 4 else 5000
    n_stations = int(sys.argv[5]) if len(sys.argv) > 5 else 70
    manager, _ = sign_in(host, port, "nursery-manager", "/nurseries/admin")
    _, _, html = get(port, host, "/nurseries/admin", manager)
    csrf = csrf_of(html)
    for i in range(n_stations):
        status, _, _ = form_post(port, host, "/nurseries/admin/stations", manager, [
            ("_csrf", csrf), ("name", f"Παιδικός Σταθμός {i + 1:02}"),
            ("address", f"Οδός {i + 1}, Άλιμος"), ("active", "1")])
        assert status in (200, 303), f"station: {status}"
    today = psql(db, "SELECT (now() AT TIME ZONE 'Europe/Athens')::date")
    day = lambda n: psql(db, f"SELECT ('{today}'::date + {n})::text")  # noqa: E731
    starts = day(90)
    status, loc, html = form_post(port, host, "/nurseries/admin/years", manager, [
        ("_csrf", csrf), ("label", "2027-2028"), ("opens_on", day(-1)), ("closes_on", day(20)),
        ("results_on", day(30)), ("objections_until", day(40)), ("starts_on", starts),
        ("accept_days", "10")])
    year_path = urllib.parse.urlsplit(loc).path if loc else None
    if year_path is None or "/admin/years/" not in year_path:
        _, _, html = get(port, host, "/nurseries/admin", manager)
        year_path = re.search(r'/nurseries/admin/years/[0-9a-f-]{36}', html).group(0)
    _, _, html = get(port, host, year_path, manager)
    # Places: about 60 % of the children fit, as in a large municipality.
    per = max(1, total * 6 // 10 // (n_stations * 2))
    grid = [(f"places-{f}", str(per)) for f in re.findall(r'name="places-([^"]+)"', html)]
    status, _, _ = form_post(port, host, f"{year_path}/places", manager, [("_csrf", csrf)] + grid)
    assert status in (200, 303), f"places: {status}"
    _, _, html = get(port, host, "/nurseries/admin", manager)
    stations = list(dict.fromkeys(re.findall(r'action="/nurseries/admin/stations/([0-9a-f-]{36})"', html)))
    assert len(stations) == n_stations, f"{len(stations)} stations"

    # One family applies through the form, and the committee checks it.
    parent, _ = sign_in(host, port, "parent-01", "/nurseries/apply")
    _, _, html = get(port, host, "/nurseries/apply", parent)
    submission = re.search(r'name="_submission" value="([^"]+)"', html).group(1)
    birth = psql(db, f"SELECT ('{starts}'::date - interval '14 months')::date::text")
    fields = [("_csrf", csrf_of(html)), ("_submission", submission), ("action", "submit"),
              ("parent_name", "Γονέας Δοκιμής"), ("email", "parent01@example.gr"),
              ("mobile", "69 1234 5678"), ("income", "18000"), ("family_children", "1"),
              ("child-0-name", "Παιδί Δοκιμής"), ("child-0-birth", birth),
              ("claim", "resident"), ("claim", "working-mother")]
    fields += [(f"pref-{i + 1}", s) for i, s in enumerate(stations[:3])]
    status, loc = multipart(port, host, "/nurseries/apply", parent, fields,
                            [("doc-family-status", "πιστοποιητικό.pdf")])
    assert status == 303, f"application: {status}"
    case = re.search(r"/nurseries/applications/([0-9a-f-]{36})", loc).group(1)
    review = f"/nurseries/applications/{case}/review"
    _, _, html = get(port, host, review, manager)
    lines = sorted(set(re.findall(r'name="review-([^"]+)"', html)))
    status, _, html = form_post(port, host, review, manager, [("_csrf", csrf_of(html))]
                                + [(f"review-{l}", "accepted") for l in lines] + [("action", "finish")])
    assert status in (200, 303), f"review: {status}"

    # The other families: copies of the checked one, each its own.
    t0 = time.time()
    script = open(__file__.rsplit("/", 1)[0] + "/seed-nurseries.sql", encoding="utf-8").read()
    subprocess.run(["psql", db, "-v", "ON_ERROR_STOP=1", "-q", "-v", f"case={case}",
                    "-v", f"total={total}", "-v", f"today={today}"],
                   input=script, check=True, text=True, capture_output=True)
    seeded = time.time() - t0
    apps = psql(db, "SELECT COUNT(*) FROM nursery_applications WHERE status = 'submitted'")
    children = psql(db, "SELECT SUM(jsonb_array_length(application->'children')) FROM nursery_applications WHERE status = 'submitted'")

    # The committee's clicks.
    _, _, html = get(port, host, "/nurseries/admin/placement", manager)
    csrf = csrf_of(html)
    t0 = time.perf_counter()
    status, loc, _ = form_post(port, host, "/nurseries/admin/placement/run", manager,
                               [("_csrf", csrf), ("seed", "bench")])
    ran = time.perf_counter() - t0
    assert status == 303, f"placement run: {status}"
    run = re.search(r"run=([0-9a-f-]{36})", loc).group(1)
    t0 = time.perf_counter()
    status, loc, _ = form_post(port, host, f"/nurseries/admin/placement/{run}/publish", manager,
                               [("_csrf", csrf)])
    published = time.perf_counter() - t0
    assert status == 303, f"publication: {status}"
    # Every family's case moved on and its message is queued.
    moved = psql(db, "SELECT COUNT(*) FROM tasks WHERE step = 'results' AND status <> 'open'")
    still = psql(db, "SELECT COUNT(*) FROM tasks WHERE step = 'results' AND status = 'open'")
    told = psql(db, "SELECT COUNT(DISTINCT n.case_id) FROM notifications n JOIN nursery_applications a "
                    "ON a.tenant_id = n.tenant_id AND a.case_id = n.case_id WHERE n.created_at >= "
                    "(SELECT published_at FROM nursery_runs WHERE id = '" + run + "')")
    status, _, html = get(port, host, f"/nurseries/applications/{case}", parent)
    assert status == 200, f"result page: {status}"
    placed = psql(db, f"SELECT COUNT(*) FROM nursery_results WHERE run_id = '{run}' AND station_id IS NOT NULL AND status = 'placed'")
    print(f"| Nursery placement run ({apps} applications, {children} children, {n_stations} stations) | 1 | — | {ran * 1000:.0f} ms | — | 0 | — | — |")
    print(f"| Nursery publication (every case moved on, every family told) | 1 | — | {published * 1000:.0f} ms | — | 0 | — | — |")
    print(f"NURSERY\t{apps}\t{children}\t{n_stations}\t{ran:.2f}\t{published:.2f}\t{moved}\t{still}\t{told}\t{placed}\t{seeded:.1f}")


if __name__ == "__main__":
    main()
