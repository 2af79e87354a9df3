#!/usr/bin/env python3
"""Turns the measurements of scripts/bench-peer into the issue-12 table and its goal lines.

Input: the TSV that bench-peer writes (one row per wrk or pgbench run, see COLUMNS) and the
kernel's clock-tick rate. Every ratio is taken per round (ours / Node's measured back to
back in that round), and a goal is judged on the median of those per-round ratios, so a
change in machine load between rounds moves both sides alike.
"""

import csv
import statistics
import sys

COLUMNS = ["kind", "round", "route", "system", "requests", "seconds",
           "server_ticks", "redis_ticks", "non2xx", "socket_errors", "note"]

ROUTES = [
    ("hit", "`GET /vendors/{id}` (hit)"),
    ("repeated", "search, same query repeated (result cache)"),
    ("uncached", "search, random point ±0.3° around LA, 50 mi, limit 10 (uncached)"),
    ("uncached_tow", "same, `capability=tow&availableOnly=true` (uncached)"),
]

# (route, measure, bound, how ours must compare with Node's), from issue 12.
GOALS = [
    ("hit", "server", 0.5, "le"),
    ("hit", "redis", 1.0, "le"),
    ("hit", "rps", 1.0, "ge"),
    ("repeated", "rps", 1.5, "ge"),
    ("repeated", "server", 0.5, "le"),
    ("repeated", "redis", 3.0, "le"),
    ("uncached", "rps", 2.0, "ge"),
    ("uncached", "redis", 0.5, "le"),
    ("uncached_tow", "rps", 2.0, "ge"),
    ("uncached_tow", "redis", 0.5, "le"),
]

MEASURE_NAMES = {"rps": "throughput", "server": "server CPU/req", "redis": "Redis CPU/req"}


def load(path, ticks_per_s):
    """Rows keyed by (route, system, round) with req/s and CPU µs per request."""
    runs, anchor, notes = {}, {}, []
    with open(path, newline="") as f:
        for row in csv.DictReader(f, fieldnames=COLUMNS, delimiter="\t"):
            rnd = int(row["round"])
            if row["kind"] == "pgbench":
                anchor.setdefault(row["route"], {})[rnd] = float(row["requests"]) / float(row["seconds"])
                continue
            requests = int(row["requests"])
            if requests == 0:
                notes.append(f"round {rnd} {row['route']} {row['system']}: no requests served")
                continue
            us = 1e6 / ticks_per_s / requests
            runs[(row["route"], row["system"], rnd)] = {
                "rps": requests / float(row["seconds"]),
                "server": int(row["server_ticks"]) * us,
                "redis": int(row["redis_ticks"]) * us,
            }
            bad = int(row["non2xx"]) + int(row["socket_errors"])
            if bad:
                notes.append(f"round {rnd} {row['route']} {row['system']}: {row['non2xx']} non-2xx, "
                             f"{row['socket_errors']} socket errors")
            if row["note"]:
                notes.append(f"round {rnd} {row['route']} {row['system']}: {row['note']}")
    return runs, anchor, notes


def span(values, fmt):
    """min–max of the rounds, or the single value."""
    if not values:
        return "n/a"
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return lo if lo == hi else f"{lo}–{hi}"


def fmt_rps(values):
    if values and min(values) >= 10_000:
        return span([v / 1000 for v in values], "{:.1f}") + "k"
    return span(values, "{:.0f}")


def cpu_fmt(values):
    return "{:.2f}" if values and max(values) < 10 else "{:.0f}" if values and min(values) >= 100 else "{:.1f}"


def main():
    path, ticks_per_s = sys.argv[1], float(sys.argv[2])
    live = sys.argv[3] if len(sys.argv) > 3 else ""
    runs, anchor, notes = load(path, ticks_per_s)
    rounds = sorted({r for (_, _, r) in runs})

    def series(route, system, measure):
        return [runs[(route, system, r)][measure] for r in rounds if (route, system, r) in runs]

    print("| route | Node req/s | ours req/s | server CPU µs/req, Node / ours | Redis CPU µs/req, Node / ours |")
    print("|---|---|---|---|---|")
    for route, title in ROUTES:
        node_rps, ours_rps = series(route, "node", "rps"), series(route, "ours", "rps")
        if not node_rps and not ours_rps:
            continue
        cells = [fmt_rps(node_rps), fmt_rps(ours_rps)]
        for measure in ("server", "redis"):
            n, o = series(route, "node", measure), series(route, "ours", measure)
            cells.append(f"{span(n, cpu_fmt(n))} / {span(o, cpu_fmt(o))}")
        print(f"| {title} | " + " | ".join(cells) + " |")
    print(f"\nmin–max over {len(rounds)} round(s); CPU = utime+stime from /proc/PID/stat "
          f"({ticks_per_s:.0f} ticks/s) over the wrk run, divided by the requests served.")

    if anchor:
        print("\nPostGIS anchor (pgbench, nearest 10 by `geog <-> point` on a GiST index):")
        for variant, title in (("uncached", "any vendor"), ("uncached_tow", "tow + available")):
            if variant in anchor:
                print(f"  {title}: {fmt_rps(list(anchor[variant].values()))} queries/s")

    print("\nGoals of issue 12 (median over rounds of ours / Node's measured in the same round):")
    failed = 0

    def judge(label, ratios, bound, how):
        nonlocal failed
        if not ratios:
            print(f"  SKIP {label}: not measured")
            return
        median = statistics.median(ratios)
        ok = median <= bound if how == "le" else median >= bound
        failed += not ok
        sign = "≤" if how == "le" else "≥"
        detail = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"  {'PASS' if ok else 'FAIL'} {label}: ours/Node {median:.2f} (goal {sign} {bound:g}; rounds {detail})")

    for route, measure, bound, how in GOALS:
        ratios = [runs[(route, "ours", r)][measure] / runs[(route, "node", r)][measure]
                  for r in rounds
                  if (route, "ours", r) in runs and (route, "node", r) in runs
                  and runs[(route, "node", r)][measure] > 0]
        judge(f"{route} {MEASURE_NAMES[measure]}", ratios, bound, how)
    for variant in ("uncached", "uncached_tow"):
        if variant not in anchor:
            continue
        ratios = [runs[(variant, "ours", r)]["rps"] / anchor[variant][r]
                  for r in rounds if (variant, "ours", r) in runs and r in anchor[variant]]
        if not ratios:
            continue
        median = statistics.median(ratios)
        ok = median >= 1.0
        failed += not ok
        print(f"  {'PASS' if ok else 'FAIL'} {variant} throughput vs PostGIS: ours/PostGIS {median:.2f} "
              f"(goal ≥ 1; rounds {', '.join(f'{r:.2f}' for r in ratios)})")
    if live:
        ok = live.startswith("PASS")
        failed += not ok
        print(f"  {live}")
    print(f"  {failed} goal(s) not met")
    if notes:
        print("\nNotes:")
        for note in notes:
            print(f"  {note}")


if __name__ == "__main__":
    main()
