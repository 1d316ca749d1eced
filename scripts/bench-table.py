#!/usr/bin/env python3
"""Prints bench-results.json as a table. Each benchmark appends entries with
{"bench","metric","ours","peer","peer-name","unit","ratio","target"} through scripts/bench-record.py."""
import json, sys
data = json.load(open(sys.argv[1]))
rows = data.get("runs", [])
print(f"{'benchmark':28} {'metric':30} {'ours':>12} {'peer':>12} {'peer name':16} {'ratio':>8}  target")
for r in rows:
    def f(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))
    print(f"{r.get('bench',''):28} {r.get('metric','') + ' (' + r.get('unit','') + ')':30} {f(r.get('ours')):>12} {f(r.get('peer')):>12} {(r.get('peer-name') or r.get('peer_name')) or '-':16} {f(r.get('ratio')):>8}  {r.get('target') or ''}")
