#!/usr/bin/env python3
"""Turn the lab's bench.jsonl (written by lab/scenarios/bench.sh) into the benchmark
table (median, min, max, ratio pathagent/peer, DESIGN.md section 5 targets) and JSON.

  bench/report.py BENCH.jsonl [--json OUT.json]

Exit status: 0 when every measurement ran; 1 when any was "not run" or "failed"
(those rows are listed, never dropped); target misses are marked MISS in the table.
"""
import json
import statistics
import sys


def load(path):
    meta, rows = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if d.get("meta"):
                meta = d
            else:
                rows.append(d)
    return meta, rows


def stats(values):
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values),
            "min": min(values), "max": max(values)}


def find(rows, scenario_prefix, tool, metric):
    for r in rows:
        if r["scenario"].startswith(scenario_prefix) and r["tool"] == tool and r["metric"] == metric:
            return r
    return None


def median_of(r):
    """Median of a measurement that ran ("failed"/"not run" rows give no ratio)."""
    return r["stats"]["median"] if r and r["status"] == "ok" and r.get("stats") else None


# (label, numerator row, denominator row, kind, target) ; kind "time": ratio of times
# (lower is better), "rate": ratio of throughputs (higher is better)
def comparisons(rows):
    out = []

    def add(label, num, den, target_desc, check):
        n, d = median_of(num), median_of(den)
        ratio = n / d if n is not None and d else None
        verdict = "n/a"
        if ratio is not None and check is not None:
            verdict = "ok" if check(ratio, n) else "MISS"
        elif num is None or den is None or n is None or d is None:
            verdict = "not measured"
        out.append({"comparison": label, "ratio": ratio, "target": target_desc, "verdict": verdict,
                    "numerator": num and f'{num["tool"]} {num["scenario"]}/{num["metric"]}',
                    "denominator": den and f'{den["tool"]} {den["scenario"]}/{den["metric"]}'})

    pa, ob = "pathagent", "os-brick"
    add("attach, fresh login: pathagent / os-brick", find(rows, "attach_fresh", pa, "attach"),
        find(rows, "attach_fresh", ob, "attach"), "<= 0.2", lambda r, n: r <= 0.2)
    add("detach, last volume: pathagent / os-brick", find(rows, "detach_last", pa, "detach"),
        find(rows, "detach_last", ob, "detach"), "<= 0.2", lambda r, n: r <= 0.2)
    add("attach, sessions present: pathagent / os-brick", find(rows, "attach_second", pa, "attach"),
        find(rows, "attach_second", ob, "attach"), "<= 0.2", lambda r, n: r <= 0.2)
    add("detach, sessions kept: pathagent / os-brick", find(rows, "detach_kept", pa, "detach"),
        find(rows, "detach_kept", ob, "detach"), "<= 0.2", lambda r, n: r <= 0.2)
    # the daemon's API from a long-lived client, then the engine's own step timings
    # ... and os-brick's own calls answered by the drop-in connector (brick/) through the daemon
    for tool, what in (("pathagent (API)", "pathagent API call"), ("pathagent (engine steps)", "engine steps"),
                       ("drop-in connector", "drop-in connector")):
        for scen, metric, label in (("attach_fresh", "attach", "attach, fresh login"),
                                    ("detach_last", "detach", "detach, last volume"),
                                    ("attach_second", "attach", "attach, sessions present"),
                                    ("detach_kept", "detach", "detach, sessions kept")):
            add(f"{label}: {what} / os-brick", find(rows, scen, tool, metric),
                find(rows, scen, ob, metric), "<= 0.2", lambda r, n: r <= 0.2)
    add("concurrent attach: pathagent / os-brick", find(rows, "concurrent", pa, "attach_all"),
        find(rows, "concurrent", ob, "attach_all"), "(none)", None)
    add("concurrent detach: pathagent / os-brick", find(rows, "concurrent", pa, "detach_all"),
        find(rows, "concurrent", ob, "detach_all"), "(none)", None)
    add("concurrent attach of N / attach of one (pathagent)", find(rows, "concurrent", pa, "attach_all"),
        find(rows, "attach_fresh", pa, "attach"), "< 2 (design: 64 volumes)", lambda r, n: r < 2)
    add("path failure: pathagent monitor / multipathd", find(rows, "path_failure", pa, "detect"),
        find(rows, "path_failure", "multipathd", "detect"), "<= 0.1 and < 1 s",
        lambda r, n: r <= 0.1 and n < 1)
    add("path failure: kernel (dm on I/O error) / multipathd",
        find(rows, "path_failure", "kernel (dm on I/O error)", "detect"),
        find(rows, "path_failure", "multipathd", "detect"), "(reference, not pathagent)", None)
    add("UNMAP throughput: pathagent / blkdiscard", find(rows, "unmap", pa, "throughput"),
        find(rows, "unmap", "blkdiscard", "throughput"), ">= 0.95", lambda r, n: r >= 0.95)
    add("UNMAP throughput: sg_unmap / blkdiscard", find(rows, "unmap", "sg_unmap", "throughput"),
        find(rows, "unmap", "blkdiscard", "throughput"), "(reference)", None)
    big = next((r["scenario"] for r in rows if r["scenario"].startswith("inventory_")
                and not r["scenario"].startswith("inventory_udev")), "inventory_")
    add("inventory process: pathctl paths / lsscsi", find(rows, big, pa, "process"),
        find(rows, big, "lsscsi", "process"), "(none)", None)
    add("inventory process (udev-initialized set): pathctl paths / multipathd show paths",
        find(rows, "inventory_udev", pa, "process"),
        find(rows, "inventory_udev", "multipathd", "show paths"), "(none)", None)
    return out


def absolute_targets(rows):
    out = []
    inv = next((r for r in rows if r["scenario"].startswith("inventory_") and not r["scenario"].startswith("inventory_udev")
                and r["tool"] == "pathagent" and r["metric"] == "scan"), None)
    if inv:
        m = median_of(inv)
        npaths = inv["scenario"].split("_")[-1]
        out.append({"target": f"inventory scan < 50 ms (design: 1024 paths; measured with {npaths})",
                    "value": m, "unit": "s",
                    "verdict": "not measured" if m is None else ("ok" if m < 0.05 else "MISS")})
    rss = find(rows, "idle", "pathagent", "rss")
    m = median_of(rss)
    out.append({"target": "idle RSS < 20 MiB", "value": m, "unit": "MiB",
                "verdict": "not measured" if m is None else ("ok" if m < 20 else "MISS")})
    return out


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "s":
        return f"{v * 1000:.1f} ms" if v < 1 else f"{v:.2f} s"
    return f"{v:g} {unit}"


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    meta, rows = load(argv[1])
    for r in rows:
        r["stats"] = stats(r["values"])
    comps = comparisons(rows)
    absolute = absolute_targets(rows)
    print(f"pathagent benchmark, {meta.get('date', '?')}: guest kernel {meta.get('kernel', '?')}, "
          f"{meta.get('cpus', '?')} vCPU, {meta.get('mem_mib', '?')} MiB, os-brick {meta.get('os_brick', '?')}, "
          f"{meta.get('multipath_tools', '?')}, pathagent via {meta.get('pathagent_tool', '?')}")
    print()
    hdr = f"{'scenario':<18} {'tool':<26} {'metric':<12} {'n':>2} {'median':>11} {'min':>11} {'max':>11}  status"
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        s, u = r["stats"], r["unit"]
        cols = [fmt(s and s[k], u) for k in ("median", "min", "max")]
        print(f"{r['scenario']:<18} {r['tool']:<26} {r['metric']:<12} {s['n'] if s else 0:>2} "
              f"{cols[0]:>11} {cols[1]:>11} {cols[2]:>11}  {r['status']}")
    print()
    print(f"{'comparison (medians)':<62} {'ratio':>8}  {'target':<28} verdict")
    for c in comps:
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.3f}"
        print(f"{c['comparison']:<62} {ratio:>8}  {c['target']:<28} {c['verdict']}")
    for a in absolute:
        print(f"{a['target']:<62} {fmt(a['value'], a['unit']):>8}  {'':<28} {a['verdict']}")
    bad = [r for r in rows if r["status"] != "ok"]
    if bad:
        print()
        print(f"NOT RUN / FAILED ({len(bad)}):")
        for r in bad:
            print(f"  {r['scenario']} {r['tool']} {r['metric']}: {r['status']} - {r['note']}")
    notes = [r for r in rows if r["status"] == "ok" and r["note"]]
    if notes:
        print()
        print("notes:")
        for r in notes:
            print(f"  {r['scenario']} {r['tool']} {r['metric']}: {r['note']}")
    if "--json" in argv:
        path = argv[argv.index("--json") + 1]
        with open(path, "w") as f:
            json.dump({"meta": meta, "measurements": rows, "comparisons": comps,
                       "absolute_targets": absolute}, f, indent=2)
            f.write("\n")
        print(f"\nJSON: {path}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
