#!/usr/bin/env python3
"""Appends one figure to bench-results.json.
usage: bench-record.py BENCH METRIC UNIT OURS [PEER PEER_NAME] [--target TEXT] [--ratio R]
ratio = ours / peer when a peer is given, unless --ratio gives one measured another way (for
example the median of paired rounds, which is steadier than the ratio of two medians)."""
import json, sys, time, os
args = sys.argv[1:]
target = None
ratio = None
if "--target" in args:
    i = args.index("--target"); target = args[i + 1]; del args[i:i + 2]
if "--ratio" in args:
    i = args.index("--ratio"); ratio = float(args[i + 1]); del args[i:i + 2]
bench, metric, unit, ours = args[0], args[1], args[2], float(args[3])
peer = float(args[4]) if len(args) > 4 else None
peer_name = args[5] if len(args) > 5 else None
path = os.environ.get("BENCH_RESULTS", "bench-results.json")
data = json.load(open(path)) if os.path.exists(path) else {"runs": []}
data["runs"].append({"bench": bench, "metric": metric, "unit": unit, "ours": ours, "peer": peer,
                     "peer-name": peer_name, "ratio": (ratio if ratio is not None else (ours / peer if peer else None)), "target": target,
                     "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
json.dump(data, open(path, "w"), indent=2)
