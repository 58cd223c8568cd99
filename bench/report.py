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
    total = int(re.search(r"number of transactions actually processed: (\d+)", text).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", text)
    return {"rps": tps, "total": total, "p50": None, "p99": None, "mean": latency,
            "non_2xx": int(failed.group(1)) if failed else 0, "socket": 0}


def costs(path, requests):
    """What the requests of a row cost, per request: the service's and the cluster's CPU (µs),
    the statements' time in pg_stat_statements (µs) and their number, from the snapshots
    taken before and after it; and each statement's share."""
    base = path[:-len(".txt")]
    try:
        before = json.load(open(base + ".before.json", encoding="utf-8"))
        after = json.load(open(base + ".after.json", encoding="utf-8"))
    except OSError:
        return None
    tick_us = 1e6 / after["clock_ticks"]
    earlier = {(s["id"], s["query"]): s for s in before["statements"]}
    statements = []
    for statement in after["statements"]:
        old = earlier.get((statement["id"], statement["query"]), {"calls": 0, "ms": 0.0})
        calls = statement["calls"] - old["calls"]
        if calls > 0:
            statements.append((statement["query"], calls / requests,
                               (statement["ms"] - old["ms"]) * 1000 / requests))
    statements.sort(key=lambda s: -s[2])
    return {
        "service_cpu_us": (after["service_ticks"] - before["service_ticks"]) * tick_us / requests,
        "postgres_cpu_us": (after["postgres_ticks"] - before["postgres_ticks"]) * tick_us / requests,
        "statement_us": sum(s[2] for s in statements),
        "commit_us": sum(s[2] for s in statements if s[0].strip().upper() == "COMMIT"),
        "statements": sum(s[1] for s in statements),
        "breakdown": statements,
    }


# Which ceiling a row is measured against, and the targets of the rows.
READS = {"readyz", "get_member_by_id", "get_member_by_id_personal", "get_member_by_id_oidc",
         "list_members_filtered",
         "proposals_page_1",
         "proposals_page_200", "search_proposals", "search_proposals_4_clients"}
CEILING_OF = {**{name: "pgbench_select_member" for name in READS},
              "post_member": "pgbench_insert_member",
              "post_member_unaudited": "pgbench_insert_member",
              "patch_member_if_match": "pgbench_update_member",
              "submit_proposal": "pgbench_update_member",
              "put_attendance": "pgbench_update_member"}
WRITES = ["post_member", "post_member_unaudited", "patch_member_if_match", "submit_proposal",
          "put_attendance"]
CEILINGS = ["pgbench_select_member", "pgbench_insert_member", "pgbench_update_member",
            "pgbench_insert_member_kept", "pgbench_update_member_kept"]


def main():
    results_path, matches = sys.argv[1], sys.argv[2]
    profile_path = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] else None
    extra = [json.load(open(path, encoding="utf-8")) for path in sys.argv[4:] if path]
    memories = [item for item in extra if item.get("kind") in ("snapshot", "verify")]
    trips = next((item for item in extra if item.get("kind") == "round_trips"), {"rows": {}})
    rows = []
    for line in open(results_path, encoding="utf-8"):
        name, records, path, clients, tool = line.rstrip("\n").split("\t")
        figures = wrk(path) if tool == "wrk" else pgbench(path)
        figures["costs"] = costs(path, figures["total"])
        earlier = next((row for row in rows if row[0] == name), None)
        if earlier is None:
            rows.append((name, int(records), figures, int(clients)))
            continue
        # A later part of a row measured in turns: requests over time in all, the worse
        # latency of the parts, costs weighed by requests.
        merged = earlier[2]
        if merged["costs"] and figures["costs"]:
            a, b = merged["costs"], figures["costs"]
            wa, wb = merged["total"], figures["total"]
            for key in ("service_cpu_us", "postgres_cpu_us", "statement_us", "commit_us",
                        "statements"):
                a[key] = (a[key] * wa + b[key] * wb) / (wa + wb)
        merged["total"] += figures["total"]
        merged["seconds"] += figures["seconds"]
        merged["rps"] = merged["total"] / merged["seconds"]
        for key in ("p50", "p99"):
            merged[key] = max(merged[key], figures[key])
        for key in ("non_2xx", "socket"):
            merged[key] += figures[key]
    by_name = {name: figures for name, _, figures, _ in rows}

    def ratio(name):
        ceiling = by_name.get(CEILING_OF.get(name, ""))
        return by_name[name]["rps"] / ceiling["rps"] if ceiling and name in by_name else None

    out = []
    out.append(f"# Benchmark, {datetime.date.today().isoformat()}")
    out.append("")
    out.append(f"Machine: {os.cpu_count()} cores, {platform.machine()}; release build, "
               "logging at warn; the benchmark's own PostgreSQL cluster (packaged defaults, "
               "pg_stat_statements loaded); wrk with 2 threads, each row 20 s after "
               "a 5 s warm-up (the two POST rows in turns, each in two 10 s parts); pgbench "
               "with 10 clients, prepared statements, 20 s after 5 s; data: 6 districts, "
               "100,000 members, 2,000 workstations, "
               f"200,000 proposals ({matches} contain the searched 停车); a seventh district "
               "of 1,000 members with about 70 scored items each this year; an eighth of 100,000 "
               "members; an audit trail of 1,000,000 events.")
    out.append("")
    out.append("| Request | Clients | Requests/s | Records/s | p50 ms | p99 ms | Non-2xx | Socket errors | Ratio to its ceiling |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, records, f, clients in rows:
        r = ratio(name)
        shown = f"{r:.2f}" if r is not None else ("1.00" if name in CEILINGS else "")
        per_record = f"{f['rps'] * records:,.0f}" if records > 1 else ""
        p50 = f"{f['p50']:.2f}" if f["p50"] is not None else f"{f['mean']:.2f} (mean)"
        p99 = f"{f['p99']:.2f}" if f["p99"] is not None else ""
        out.append(f"| {name} | {clients} | {f['rps']:,.0f} | {per_record} | {p50} | {p99} "
                   f"| {f['non_2xx']} | {f['socket']} | {shown} |")
    out.append("")
    out.append("Ceilings: reads against pgbench_select_member (the select of GET by id), POSTs "
               "against pgbench_insert_member (the member INSERT the service makes), the other "
               "writes against pgbench_update_member (the member UPDATE a PATCH makes). "
               "pgbench_insert_member_kept is what a keyed, audited POST must write (the member "
               "INSERT, its pending audit event and the answer its Idempotency-Key keeps, in one "
               "pipelined transaction, sealed by the idle service's sealer): its ratio to pgbench_insert_member "
               "is what those guarantees alone leave of the INSERT's ceiling; "
               "pgbench_update_member_kept likewise for a PATCH (the member UPDATE and its "
               "pending audit event) against pgbench_update_member.")
    costed = [name for name in WRITES + CEILINGS + ["get_member_by_id"]
              if name in by_name and by_name[name]["costs"]]
    if costed:
        out.append("")
        out.append("| Per request | Round trips | Statements | PostgreSQL statement time µs | of it COMMIT µs | PostgreSQL CPU µs | Service CPU µs |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for name in costed:
            c = by_name[name]["costs"]
            rt = trips["rows"].get(name)
            rt_shown = f"{rt:.2f}" if rt is not None else ("1.00" if name in CEILINGS else "")
            service = f"{c['service_cpu_us']:.0f}" if name not in CEILINGS else ""
            out.append(f"| {name} | {rt_shown} | {c['statements']:.2f} | {c['statement_us']:.0f} "
                       f"| {c['commit_us']:.0f} | {c['postgres_cpu_us']:.0f} | {service} |")
        out.append("")
        out.append("Round trips: turns of the conversation between the service and PostgreSQL "
                   "while one request is served, counted by a proxy (bench/roundtrips.py), one "
                   "request at a time (the median of 50). Statements and their time: pg_stat_statements over the "
                   "row, every statement of the database (the sealer's included) divided by the "
                   "requests answered. CPU: /proc/<pid>/stat of the service and of every process "
                   "of the cluster over the row, divided likewise.")
        for name in ("post_member", "patch_member_if_match"):
            if name in by_name and by_name[name]["costs"]:
                out.append("")
                out.append(f"Where {name}'s database time goes (per request):")
                out.append("")
                out.append("| Statement | Calls | µs |")
                out.append("|---|---:|---:|")
                for query, calls, us in by_name[name]["costs"]["breakdown"][:12]:
                    text = " ".join(query.split())
                    text = (text[:110] + "…") if len(text) > 111 else text
                    text = text.replace("|", "\\|")
                    out.append(f"| `{text}` | {calls:.2f} | {us:.0f} |")
    memory_at = len(out)
    out.append("")

    def check(label, ok, figure):
        out.append(f"- {'met' if ok else 'NOT met'}: {label} ({figure})")

    out.append("Targets (ratios from this one run):")
    if ratio("get_member_by_id") is not None:
        get_ratio = ratio("get_member_by_id")
        check("GET by id at least 0.5 of the pgbench ceiling", get_ratio >= 0.5, f"{get_ratio:.2f}")
    if "get_member_by_id" in by_name and "get_member_by_id_personal" in by_name:
        personal = (by_name["get_member_by_id_personal"]["rps"]
                    / by_name["get_member_by_id"]["rps"])
        check("GET by id with a person's key at least 0.5 of it with a machine key",
              personal >= 0.5, f"{personal:.2f}")
    if "get_member_by_id" in by_name and "get_member_by_id_oidc" in by_name:
        signed_in = (by_name["get_member_by_id_oidc"]["rps"]
                     / by_name["get_member_by_id"]["rps"])
        check("GET by id with an OpenID Connect token at least 0.5 of it with a machine key",
              signed_in >= 0.5, f"{signed_in:.2f}")
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
    if ratio("post_member") is not None:
        check("POST /members (audited, Idempotency-Key) at least 0.5 of its INSERT's ceiling",
              ratio("post_member") >= 0.5, f"{ratio('post_member'):.2f}")
    if ratio("patch_member_if_match") is not None:
        check("PATCH /members/{id} with If-Match at least 0.5 of its UPDATE's ceiling",
              ratio("patch_member_if_match") >= 0.5, f"{ratio('patch_member_if_match'):.2f}")
    for kept_name, bare_name, row, what, statement in (
            ("pgbench_insert_member_kept", "pgbench_insert_member", "post_member",
             "a keyed, audited POST", "INSERT"),
            ("pgbench_update_member_kept", "pgbench_update_member", "patch_member_if_match",
             "an audited PATCH", "UPDATE")):
        kept, bare = by_name.get(kept_name), by_name.get(bare_name)
        if kept and bare:
            out.append(f"- the writes {what} must make, straight from pgbench: "
                       f"{kept['rps'] / bare['rps']:.2f} of the {statement}'s ceiling"
                       + (f"; {row} reaches {by_name[row]['rps'] / kept['rps']:.2f} of them"
                          if row in by_name else ""))
    for name in ("post_member", "patch_member_if_match"):
        if name in trips["rows"]:
            check(f"{name}: at most two round trips to PostgreSQL, COMMIT included",
                  trips["rows"][name] <= 2.0, f"{trips['rows'][name]:.2f}")
    post, bare = by_name.get("post_member"), by_name.get("pgbench_insert_member")
    if post and bare and post["costs"] and bare["costs"]:
        times = post["costs"]["statement_us"] / bare["costs"]["statement_us"]
        check("PostgreSQL time per POST at most 2x that of its bare INSERT", times <= 2.0,
              f"{post['costs']['statement_us']:.0f} µs against {bare['costs']['statement_us']:.0f} µs: "
              f"{times:.1f}x")
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
