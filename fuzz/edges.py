"""Edge cases the schema fuzzer does not aim at, sent to every operation that could meet
them (run by fuzz/run after schemathesis; exits non-zero on any finding):

- every date and time a client can send (body fields and query parameters), set to
  values outside what the service keeps (years -4714, 0, 1948, 2201, 200000, ...): the
  answer is a 4xx, and a 422 names the field;
- every cursor parameter, sent hand-made, and as an issued cursor with one character
  changed or of another list: the answer is a 400 or 422, never a page.

    python3 fuzz/edges.py <openapi.json> <base url> <token>
"""

import json
import sys
import urllib.error
import urllib.parse
import urllib.request

DAYS = ["-4714-11-24", "0000-01-01", "0001-01-01", "1948-12-31", "2201-01-01",
        "+200000-01-01", "200000-01-01", "9999-12-31"]
MOMENTS = ["-4714-11-24T00:00:00Z", "0000-01-01T00:00:00Z", "1948-12-31T23:59:59Z",
           "2201-01-01T00:00:00Z", "200000-01-01T00:00:00Z", "+200000-01-01T00:00:00Z",
           "1948-12-31T20:00:00-05:00", "9999-12-31T23:59:59Z"]
ZERO_ID = "00000000-0000-4000-8000-000000000000"


def request(base, token, method, path, query=None, body=None):
    url = base + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = None
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def resolve(spec, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def time_kind(spec, schema):
    """'date' or 'date-time' if the schema is one (or one of its alternatives)."""
    if not isinstance(schema, dict):
        return None
    for alternative in schema.get("oneOf", []) + schema.get("anyOf", []):
        kind = time_kind(spec, alternative)
        if kind:
            return kind
    schema = resolve(spec, schema)
    if schema.get("format") in ("date", "date-time"):
        return schema["format"]
    return None


def time_fields(spec, schema, depth=0):
    """(steps, kind) for every date or time in a body schema, in objects and arrays."""
    schema = resolve(spec, schema)
    if depth > 4 or not isinstance(schema, dict):
        return
    for name, field in schema.get("properties", {}).items():
        kind = time_kind(spec, field)
        if kind:
            yield [name], kind
            continue
        field = resolve(spec, field)
        if isinstance(field.get("items"), dict):
            for steps, kind in time_fields(spec, field["items"], depth + 1):
                yield [name, 0] + steps, kind
        else:
            for steps, kind in time_fields(spec, field, depth + 1):
                yield [name] + steps, kind


def nest(steps, value):
    if not steps:
        return value
    if steps[0] == 0:
        return [nest(steps[1:], value)]
    return {steps[0]: nest(steps[1:], value)}


def concrete(path):
    return "".join(
        ZERO_ID if part.startswith("{") else part
        for part in path.replace("{", "\0{").replace("}", "}\0").split("\0")
    )


def main():
    spec_path, base, token = sys.argv[1:4]
    spec = json.load(open(spec_path))
    findings = []
    sent = 0
    for path, item in spec["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation = item.get(method)
            if not operation:
                continue
            target = concrete(path)
            # Query parameters.
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                kind = time_kind(spec, parameter.get("schema", {}))
                if not kind:
                    continue
                for value in DAYS if kind == "date" else MOMENTS:
                    status, answer = request(base, token, method.upper(), target,
                                             {parameter["name"]: value})
                    sent += 1
                    if not 400 <= status < 500:
                        findings.append(f"{method.upper()} {path}?{parameter['name']}={value}: {status}")
            # Body fields.
            content = operation.get("requestBody", {}).get("content", {})
            schema = next(iter(content.values()), {}).get("schema")
            if not schema:
                continue
            for steps, kind in time_fields(spec, schema):
                pointer = "".join(f"/{step}" for step in steps)
                for value in DAYS if kind == "date" else MOMENTS:
                    body = nest(steps, value)
                    status, answer = request(base, token, method.upper(), target, None, body)
                    sent += 1
                    if not 400 <= status < 500:
                        findings.append(f"{method.upper()} {path} {json.dumps(body)}: {status}")
                    elif status == 422 and "{" not in path:
                        pointers = [e.get("pointer") for e in json.loads(answer).get("errors") or []]
                        if pointer not in pointers:
                            findings.append(f"{method.upper()} {path} {json.dumps(body)}: 422 without {pointer}: {pointers}")
    # Cursors: hand-made, altered, and of another list.
    lists = {}
    for path, item in spec["paths"].items():
        operation = item.get("get")
        if not operation or "{" in path:
            continue
        names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
        for name in ("cursor", "after"):
            if name in names:
                lists[path] = name
    issued = {}
    for path, name in lists.items():
        status, answer = request(base, token, "GET", path, {"limit": 1})
        if status == 200:
            page = json.loads(answer)
            cursor = page.get("next_cursor")
            if cursor:
                issued[path] = cursor
    for path, name in lists.items():
        candidates = ["AAAA", "eyJvIjoiY3JlYXRlZCJ9", "0.0", "1.1." + "A" * 22]
        own = issued.get(path)
        if own:
            for at in range(0, len(own), max(1, len(own) // 8)):
                flipped = "B" if own[at] == "A" else "A"
                candidates.append(own[:at] + flipped + own[at + 1:])
        candidates += [cursor for other, cursor in issued.items() if other != path]
        for cursor in candidates:
            status, _ = request(base, token, "GET", path, {name: cursor})
            sent += 1
            if status not in (400, 422):
                findings.append(f"GET {path}?{name}={cursor}: {status}")
    print(f"edge cases: {sent} requests, {len(findings)} findings")
    for finding in findings:
        print("  " + finding)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
