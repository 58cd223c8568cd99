"""The server's memory while it streams something large, sampled every 20 ms from
/proc/PID/status. Prints one JSON object: the RSS before, its peak during, what was read
and the seconds it took.

    python3 bench/memory.py snapshot URL TOKEN SERVER_PID DISTRICT_ID [CLIENTS]
        N clients each stream GET /api/v1/sync/snapshot of one district at once, reading
        it to its end and keeping nothing.
    python3 bench/memory.py verify URL TOKEN SERVER_PID
        GET /api/v1/audit-events/verify over the whole trail.
"""

import json
import sys
import threading
import time
import urllib.request


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def sampled(pid, tasks):
    """Runs each task in a thread of its own while sampling the RSS of `pid`."""
    before = rss_kib(pid)
    peak = before
    threads = [threading.Thread(target=task) for task in tasks]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_kib(pid))
        time.sleep(0.02)
    return {
        "rss_before_mib": before / 1024,
        "rss_peak_mib": peak / 1024,
        "seconds": time.monotonic() - started,
    }


def get(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    return urllib.request.urlopen(request, timeout=600)


def snapshot(url, token, pid, district, clients=10):
    clients = int(clients)
    target = f"{url}/api/v1/sync/snapshot?collections=members&district_id={district}"
    lines = [0] * clients
    cursors = [False] * clients

    def read(index):
        with get(target, token) as response:
            for line in response:
                lines[index] += 1
                cursors[index] = line.startswith(b'{"type":"cursor"')

    figures = sampled(pid, [lambda i=i: read(i) for i in range(clients)])
    return {**figures, "clients": clients, "lines": lines, "complete": all(cursors)}


def verify(url, token, pid):
    outcome = {}

    def run():
        with get(f"{url}/api/v1/audit-events/verify", token) as response:
            outcome.update(json.load(response))

    figures = sampled(pid, [run])
    return {**figures, "ok": outcome.get("ok"), "checked": outcome.get("checked"),
            "checkpoints_checked": outcome.get("checkpoints_checked")}


def main():
    kind, url, token, pid, *rest = sys.argv[1:]
    measure = {"snapshot": snapshot, "verify": verify}[kind]
    print(json.dumps({"kind": kind, **measure(url, token, pid, *rest)}))


main()
