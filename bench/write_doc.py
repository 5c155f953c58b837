#!/usr/bin/env python3
"""Puts the harness's table into docs/performance.md between the markers of
its database (`<!-- bench:postgres -->` … `<!-- /bench:postgres -->`)."""
import sys

path, db, table = sys.argv[1:4]
start, end = f"<!-- bench:{db} -->", f"<!-- /bench:{db} -->"
text = open(path, encoding="utf-8").read()
if start not in text or end not in text:
    raise SystemExit(f"{path} has no {start} … {end} markers")
head, rest = text.split(start, 1)
_, tail = rest.split(end, 1)
open(path, "w", encoding="utf-8").write(f"{head}{start}\n{table}\n{end}{tail}")
