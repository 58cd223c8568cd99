"""Round trips to PostgreSQL per request: the service is started with its database behind a
proxy that notes when each of its connections turns from reading the server's replies to
sending again (a turn: one round trip). Requests are sent one at a time, with a pause after
each so that the sealer's round (50 ms after a write) falls outside the next request; the
turns between a request's first byte and its answer's last are the request's.

    python3 bench/roundtrips.py BINARY > round_trips.json

Reads DATABASE_URL, TOKEN, DISTRICT_ID, IDS_FILE and ATTENDANCE_FILE from the environment
(as bench/run exports them). Prints {"kind": "round_trips", "rows": {row: turns}}, the
median over the requests.
"""

import asyncio
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

REQUESTS = 50
WARM_UP = 20
PAUSE = 0.15


class Proxy:
    """Forwards connections to PostgreSQL, noting the time of every turn."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.turns = []
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.serve(), self.loop)

    async def serve(self):
        server = await asyncio.start_server(self.connection, sock=self.listener)
        async with server:
            await server.serve_forever()

    async def connection(self, client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection(*self.target)
        state = {"last": None}

        async def pipe(reader, writer, side):
            try:
                while data := await reader.read(65536):
                    if side == "client" and state["last"] != "client":
                        with self.lock:
                            self.turns.append(time.monotonic())
                    state["last"] = side
                    writer.write(data)
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        await asyncio.gather(pipe(client_reader, server_writer, "client"),
                             pipe(server_reader, client_writer, "server"))

    def between(self, start, end):
        with self.lock:
            return sum(1 for turn in self.turns if start <= turn < end)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary = sys.argv[1]
    url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    proxy = Proxy(url.hostname, url.port or 5432)
    proxied = url._replace(netloc=f"{url.username}@127.0.0.1:{proxy.port}").geturl()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": proxied, "BIND_ADDR": f"127.0.0.1:{port}",
           "METRICS_ADDR": "127.0.0.1:0", "RUST_LOG": "warn"}
    server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        client = wait_ready(port)
        print(json.dumps({"kind": "round_trips", "rows": measure(client, proxy)}))
    finally:
        server.terminate()
        server.wait()


def wait_ready(port):
    for _ in range(200):
        try:
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            client.request("GET", "/readyz")
            if client.getresponse().read() is not None:
                return client
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the server behind the proxy did not start")


def measure(client, proxy):
    token = os.environ["TOKEN"]
    auth = {"Authorization": f"Bearer {token}"}
    run = f"{random.randrange(1 << 30):x}"

    def send(method, path, body=None, headers=None, expect=(200, 201)):
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {**auth, **(headers or {})}
        if data is not None and "Content-Type" not in all_headers:
            all_headers["Content-Type"] = "application/json"
        client.request(method, path, body=data, headers=all_headers)
        response = client.getresponse()
        payload = response.read()
        if response.status not in expect:
            raise SystemExit(f"{method} {path}: {response.status} {payload[:300]!r}")
        return response, payload

    district = os.environ["DISTRICT_ID"]
    member_ids = open(os.environ["IDS_FILE"], encoding="ascii").read().split()[-500:]
    attendance = [line.split() for line in open(os.environ["ATTENDANCE_FILE"], encoding="ascii")
                  if line.strip()]
    drafts = make_drafts(run, WARM_UP + REQUESTS)
    counter = iter(range(1 << 30))

    def post_member():
        number = f"RT-{run}-{next(counter)}"
        return ("POST", "/api/v1/members",
                {"district_id": district, "member_no": number, "name": "测试委员",
                 "sector": "economy", "party": "cpc"}, {"Idempotency-Key": number})

    def patch_member():
        member = random.choice(member_ids)
        response, _ = send("GET", f"/api/v1/members/{member}")
        return ("PATCH", f"/api/v1/members/{member}",
                {"street": f"新街口街道{next(counter)}"},
                {"If-Match": response.getheader("ETag"),
                 "Content-Type": "application/merge-patch+json"})

    def submit_proposal():
        draft = drafts.pop()
        response, _ = send("GET", f"/api/v1/proposals/{draft}")
        return ("POST", f"/api/v1/proposals/{draft}/submit", None,
                {"If-Match": response.getheader("ETag")})

    def put_attendance():
        meeting, member, status = random.choice(attendance)
        return ("PUT", f"/api/v1/meetings/{meeting}/attendance/{member}",
                {"status": status, "note": f"{run}-{next(counter)}"}, None)

    def get_member():
        return ("GET", f"/api/v1/members/{random.choice(member_ids)}", None, None)

    rows = {}
    for name, make in (("get_member_by_id", get_member), ("post_member", post_member),
                       ("patch_member_if_match", patch_member),
                       ("submit_proposal", submit_proposal), ("put_attendance", put_attendance)):
        turns = []
        for index in range(WARM_UP + REQUESTS):
            method, path, body, headers = make()
            time.sleep(PAUSE)
            start = time.monotonic()
            send(method, path, body, headers)
            end = time.monotonic()
            if index >= WARM_UP:
                turns.append(proxy.between(start, end))
        # The median: a round of the sealer's once-a-second backstop that falls inside a
        # request now and then is not the request's.
        rows[name] = statistics.median(turns)
    return rows


def make_drafts(run, count):
    """Drafts of this measurement's own, to submit."""
    sql = f"""
INSERT INTO proposals (id, district_id, kind, title, body, category, lead_member_id, status)
SELECT md5('rtdraft' || '{run}' || n)::uuid, md5('district' || (1 + n % 6))::uuid, 'member',
       '关于完善社区养老服务的建议' || n, '建议有关部门统筹资源，完善机制。', 'economy',
       md5('member' || (6 * (1 + n % 16000) + n % 6))::uuid, 'draft'
FROM generate_series(1, {count}) AS n
RETURNING id"""
    output = subprocess.run(["psql", os.environ["DATABASE_URL"], "-XqtAc", sql], check=True,
                            capture_output=True, text=True).stdout
    return output.split()


main()
