"""The server's memory while clients read snapshots at once: N clients each stream
GET /api/v1/sync/snapshot of one district (reading it to its end and keeping nothing),
while the server's resident set size is sampled every 20 ms. Prints one JSON object:
the RSS before, its peak during, the lines each client read and the seconds it took.

    python3 bench/snapshot_memory.py URL TOKEN DISTRICT_ID SERVER_PID [CLIENTS]
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


def main():
    url, token, district, pid = sys.argv[1:5]
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 10
    target = f"{url}/api/v1/sync/snapshot?collections=members&district_id={district}"
    lines = [0] * clients
    cursors = [False] * clients

    def read(index):
        request = urllib.request.Request(target, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=600) as response:
            for line in response:
                lines[index] += 1
                cursors[index] = line.startswith(b'{"type":"cursor"')

    before = rss_kib(pid)
    peak = before
    threads = [threading.Thread(target=read, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        peak = max(peak, rss_kib(pid))
        time.sleep(0.02)
    seconds = time.monotonic() - started
    print(json.dumps({
        "clients": clients,
        "rss_before_mib": before / 1024,
        "rss_peak_mib": peak / 1024,
        "lines": lines,
        "complete": all(cursors),
        "seconds": seconds,
    }))


main()
