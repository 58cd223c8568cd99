"""What a row of bench/run cost, read before and after it: the CPU of the service's process
and of every process of the benchmark's PostgreSQL cluster (from /proc/<pid>/stat), and
each statement's calls and time in pg_stat_statements.

    python3 bench/costs.py DATABASE_URL SERVICE_PID POSTMASTER_PID > snapshot.json

SERVICE_PID may be 0 (a pgbench row: no service). The cluster's CPU is the postmaster's and
its live children's own time, with the time of children that have exited (cutime and
cstime of the postmaster, which reaped them).
"""

import json
import os
import subprocess
import sys


def stat(pid):
    """utime, stime, cutime, cstime of a process, in clock ticks (0s if it is gone)."""
    try:
        text = open(f"/proc/{pid}/stat", encoding="ascii").read()
    except OSError:
        return (0, 0, 0, 0)
    fields = text[text.rindex(")") + 2:].split()
    # Fields 14 to 17 of proc(5); the text after ") " starts at field 3.
    return tuple(int(value) for value in fields[11:15])


def children(pid):
    try:
        text = open(f"/proc/{pid}/task/{pid}/children", encoding="ascii").read()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def cluster_ticks(postmaster):
    utime, stime, cutime, cstime = stat(postmaster)
    total = utime + stime + cutime + cstime
    for child in children(postmaster):
        child_utime, child_stime, _, _ = stat(child)
        total += child_utime + child_stime
    return total


def service_ticks(pid):
    if pid == 0:
        return 0
    utime, stime, _, _ = stat(pid)
    return utime + stime


STATEMENTS = """
SELECT coalesce(json_agg(json_build_object(
    'id', queryid::text, 'query', query, 'calls', calls,
    'ms', total_exec_time + total_plan_time, 'rows', rows)), '[]')
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND query NOT LIKE '%pg_stat_statements%'
"""


def main():
    url, service, postmaster = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    # CPU first: the psql below starts a backend of its own, whose time is then counted
    # in the next snapshot (a few milliseconds over a row of many seconds).
    snapshot = {
        "clock_ticks": os.sysconf("SC_CLK_TCK"),
        "service_ticks": service_ticks(service),
        "postgres_ticks": cluster_ticks(postmaster),
    }
    output = subprocess.run(["psql", url, "-XtAc", STATEMENTS], check=True,
                            capture_output=True, text=True).stdout
    snapshot["statements"] = json.loads(output)
    print(json.dumps(snapshot))


main()
