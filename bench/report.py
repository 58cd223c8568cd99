"""Turns the wrk and pgbench outputs of bench/run into the results table (Markdown)."""

import datetime
import json
import os
import platform
import re
import sys


def wrk(path):
    text = open(path, encoding="utf-8").read()

    def ms(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    took = re.search(r"requests in ([\d.]+)(ms|s|m)", text)
    seconds = float(took.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[took.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": rps,
        "total": total,
        "seconds": seconds,
        "p50": ms("50"),
        "p99": ms("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket": sum(int(n) for n in socket.groups()) if socket else 0,
    }


def pgbench(path):
    text = open(path, encoding="utf-8").read()
    tps = float(re.search(r"tps = ([\d.]+)", text).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", text).group(1))
    return tps, latency


def main():
    results_path, pgbench_path, matches = sys.argv[1], sys.argv[2], sys.argv[3]
    profile_path = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
    memories = [json.load(open(path, encoding="utf-8")) for path in sys.argv[5:] if path]
    rows = []
    for line in open(results_path, encoding="utf-8"):
        name, records, path, clients = line.rstrip("\n").split("\t")
        figures = wrk(path)
        earlier = next((row for row in rows if row[0] == name), None)
        if earlier is None:
            rows.append((name, int(records), figures, int(clients)))
            continue
        # A later part of a row measured in turns: requests over time in all, the worse
        # latency of the parts.
        merged = earlier[2]
        merged["total"] += figures["total"]
        merged["seconds"] += figures["seconds"]
        merged["rps"] = merged["total"] / merged["seconds"]
        for key in ("p50", "p99"):
            merged[key] = max(merged[key], figures[key])
        for key in ("non_2xx", "socket"):
            merged[key] += figures[key]
    ceiling, ceiling_latency = pgbench(pgbench_path)
    by_name = {name: figures for name, _, figures, _ in rows}
    reads = {"readyz", "get_member_by_id", "list_members_filtered", "proposals_page_1",
             "proposals_page_200", "search_proposals", "search_proposals_4_clients"}

    out = []
    out.append(f"# Benchmark, {datetime.date.today().isoformat()}")
    out.append("")
    out.append(f"Machine: {os.cpu_count()} cores, {platform.machine()}; release build, "
               "logging at warn; wrk with 2 threads, each row 20 s after "
               "a 5 s warm-up (the two POST rows in turns, each in two 10 s parts); data: 6 districts, 100,000 members, 2,000 workstations, "
               f"200,000 proposals ({matches} contain the searched 停车); a seventh district "
               "of 1,000 members with about 70 scored items each this year; an eighth of 100,000 "
               "members; an audit trail of 1,000,000 events.")
    out.append("")
    out.append("| Request | Clients | Requests/s | Records/s | p50 ms | p99 ms | Non-2xx | Socket errors | Ratio to pgbench |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, records, f, clients in rows:
        ratio = f"{f['rps'] / ceiling:.2f}" if name in reads else ""
        per_record = f"{f['rps'] * records:,.0f}" if records > 1 else ""
        out.append(f"| {name} | {clients} | {f['rps']:,.0f} | {per_record} | {f['p50']:.2f} | {f['p99']:.2f} "
                   f"| {f['non_2xx']} | {f['socket']} | {ratio} |")
    out.append(f"| pgbench -M prepared, the same select | 10 | {ceiling:,.0f} | | "
               f"{ceiling_latency:.2f} (mean) | | | | 1.00 |")
    memory_at = len(out)
    out.append("")

    def check(label, ok, figure):
        out.append(f"- {'met' if ok else 'NOT met'}: {label} ({figure})")

    out.append("Targets (ratios from this one run):")
    if "get_member_by_id" in by_name:
        get_ratio = by_name["get_member_by_id"]["rps"] / ceiling
        check("GET by id at least 0.5 of the pgbench ceiling", get_ratio >= 0.5, f"{get_ratio:.2f}")
    if "proposals_page_1" in by_name and "proposals_page_200" in by_name:
        page_ratio = by_name["proposals_page_200"]["rps"] / by_name["proposals_page_1"]["rps"]
        check("page 200 costs the same as page 1, within 20 %", abs(1 - page_ratio) <= 0.2,
              f"page 200 at {page_ratio:.2f} of page 1's rate")
    for name, clients in (("search_proposals_4_clients", 4), ("search_proposals", 16)):
        if name in by_name:
            p99 = by_name[name]["p99"]
            check(f"search under 20 ms p99 on 200,000 proposals, {clients} clients", p99 < 20,
                  f"{p99:.2f} ms")
    if "post_member" in by_name and "post_member_unaudited" in by_name:
        audit_ratio = by_name["post_member"]["rps"] / by_name["post_member_unaudited"]["rps"]
        check("POST with the audit trail at least 0.85 of POST without it", audit_ratio >= 0.85,
              f"{audit_ratio:.2f}")
    for name in ("performance_ranking", "performance_ranking_csv"):
        if name in by_name:
            p99 = by_name[name]["p99"]
            check(f"{name}: a district of 1,000 members ranked in under 200 ms (p99, 1 client)",
                  p99 < 200, f"{p99:.2f} ms")
    memory_rows = []
    for memory in memories:
        added = memory["rss_peak_mib"] - memory["rss_before_mib"]
        figures = (f"{memory['rss_before_mib']:.0f} MiB | {memory['rss_peak_mib']:.0f} MiB | "
                   f"+{added:.0f} MiB")
        if memory["kind"] == "snapshot":
            complete = memory["complete"] and len(set(memory["lines"])) == 1
            memory_rows.append(
                f"| snapshot_memory: {memory['clients']} clients stream /sync/snapshot of a "
                f"100,000-member district at once | {figures} | {memory['lines'][0]:,} lines "
                f"per client | {memory['seconds']:.1f} s |")
            check("10 concurrent snapshots of a 100,000-member district add under 64 MiB to "
                  "the server's RSS, and each reads every record and the cursor",
                  added < 64 and complete, f"+{added:.0f} MiB")
        elif memory["kind"] == "verify":
            rate = (memory["checked"] or 0) / memory["seconds"]
            memory_rows.append(
                f"| verify_trail: GET /audit-events/verify over the whole trail | {figures} | "
                f"{memory['checked'] or 0:,} events, {memory['checkpoints_checked'] or 0:,} "
                f"checkpoints, {rate:,.0f} events/s, ok: {str(memory['ok']).lower()} | "
                f"{memory['seconds']:.1f} s |")
            check("verify walks 1,000,000 events with the server's RSS flat (under 16 MiB "
                  "added) and finds the trail intact",
                  (memory["checked"] or 0) >= 1_000_000 and added < 16 and memory["ok"] is True,
                  f"{memory['checked'] or 0:,} events at {rate:,.0f}/s, +{added:.0f} MiB")
    if memory_rows:
        out[memory_at:memory_at] = [
            "", "| Memory | RSS before | RSS peak | Added | Read | Took |",
            "|---|---:|---:|---:|---|---:|", *memory_rows, ""]
    failures = sum(f["non_2xx"] + f["socket"] for _, _, f, _ in rows)
    check("no non-2xx answer and no socket error", failures == 0, f"{failures}")
    if profile_path and os.path.exists(profile_path):
        out.append("")
        out.append("Profile of the server under GET by id (perf, self time, top symbols):")
        out.append("")
        out.append("```")
        out.extend(line.rstrip() for line in open(profile_path, encoding="utf-8"))
        out.append("```")
    print("\n".join(out))


main()
