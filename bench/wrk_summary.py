#!/usr/bin/env python3
"""One table row from the outputs of wrk runs made at the same time (one
per replica): requests per second added up; p50 and p99 the worst of the
replicas' (wrk reports each run's own distribution); errors are socket
errors and answers other than 2xx/3xx.

    wrk_summary.py NAME CONNECTIONS CPU_PERCENT RSS_MB WRK_OUTPUT...
"""
import re
import sys


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def fmt(v):
    return f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def main():
    name, conns, cpu, rss = sys.argv[1:5]
    rps, p50, p99, errors, total = 0.0, 0.0, 0.0, 0, 0
    for path in sys.argv[5:]:
        out = open(path, encoding="utf-8", errors="replace").read()
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if not m:
            raise SystemExit(f"{path}: no result from wrk:\n{out}")
        rps += float(m.group(1))
        p50 = max(p50, ms(re.search(r"\s50%\s+(\S+)", out).group(1)))
        p99 = max(p99, ms(re.search(r"\s99%\s+(\S+)", out).group(1)))
        total += int(re.search(r"(\d+) requests in", out).group(1))
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors += int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        errors += sum(int(x) for x in m.groups()) if m else 0
    print(f"| {name} | {conns} | {rps:,.0f} | {fmt(p50)} | {fmt(p99)} | {errors} of {total:,} | {cpu} % | {rss} MB |")


if __name__ == "__main__":
    main()
