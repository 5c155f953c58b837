"""Solves a hospital/residents instance with PyPI `matching` (resident-
optimal) for the nurseries cross-check. Reads JSON on stdin:
{"residents": {r: [h, ...]}, "hospitals": {h: [r, ...]}, "capacities": {h: n}}
and prints {"matching": {r: h}, "seconds": t} (unmatched residents left out).
"""
import json
import sys
import time

from matching.games import HospitalResident

data = json.load(sys.stdin)
start = time.perf_counter()
game = HospitalResident.create_from_dictionaries(
    data["residents"], data["hospitals"], data["capacities"]
)
solved = game.solve(optimal="resident")
seconds = time.perf_counter() - start
result = {}
for hospital, residents in solved.items():
    for resident in residents:
        result[str(resident)] = str(hospital)
json.dump({"matching": result, "seconds": seconds}, sys.stdout)
