#!/usr/bin/env python3
"""Verifies an export of the cppcc-api audit trail offline, independently of the service.

    python3 tools/verify_trail.py trail.ndjson checkpoints.json --key <base64 public key> [--key ...]

trail.ndjson    the NDJSON export (GET /api/v1/audit-events with Accept: application/x-ndjson),
                from seq 1 or from any seq on (then the first event's prev_hash is taken
                as given)
checkpoints.json the checkpoints (the "items" of GET /api/v1/audit-events/checkpoints, all
                pages, as one JSON array; or a page as served)
--key           a public key you trust, as the operator gave it (base64 of 32 bytes);
                repeat for a rotated key. Checkpoints signed by any other key fail.

Recomputes every event's hash from its fields (SHA-256 over prev_hash, a newline and the
event's canonical JSON: keys sorted at every depth, no spaces, UTF-8), checks that each
event follows the one before, and that every checkpoint is signed by a trusted key and
names the hash the trail has at its seq. Prints what it found; exits 0 only when all
holds. Needs Python 3.9+ and the `cryptography` package (Ed25519).
"""

import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

GENESIS = "0" * 64
HASHED = ("seq", "occurred_at", "actor_key_id", "actor_role", "actor_district_id",
          "request_id", "idempotency_key", "action", "entity_type", "entity_id",
          "district_id", "before", "after")


def canonical(value):
    """JSON with keys sorted (by code point) at every depth, no whitespace, UTF-8 as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(event, prev_hash):
    content = {name: event.get(name) for name in HASHED}
    # The person who acted is hashed when an event names one, and absent otherwise.
    if event.get("actor_account") is not None:
        content["actor_account"] = event["actor_account"]
    text = prev_hash + "\n" + canonical(content)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def key_id(public_bytes):
    return "ed25519:" + hashlib.sha256(public_bytes).hexdigest()[:16]


def signed_text(checkpoint):
    return "\n".join([
        "cppcc-api audit checkpoint v1",
        f"number: {checkpoint['number']}",
        f"seq: {checkpoint['seq']}",
        f"hash: {checkpoint['hash']}",
        f"signed_at: {checkpoint['signed_at']}",
        f"key_id: {checkpoint['key_id']}",
    ]).encode("utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trail")
    parser.add_argument("checkpoints")
    parser.add_argument("--key", action="append", default=[], required=True)
    args = parser.parse_args()

    keys = {}
    for text in args.key:
        raw = base64.b64decode(text, validate=True)
        keys[key_id(raw)] = Ed25519PublicKey.from_public_bytes(raw)

    problems = []
    hashes = {}
    previous = None
    with open(args.trail, encoding="utf-8") as trail:
        for line_no, line in enumerate(trail, 1):
            if not line.strip():
                continue
            event = json.loads(line)
            seq = event["seq"]
            if previous is None:
                expected_prev = GENESIS if seq == 1 else event["prev_hash"]
            else:
                if seq != previous[0] + 1:
                    problems.append(f"seq {previous[0] + 1}: missing (line {line_no} has seq {seq})")
                    break
                expected_prev = previous[1]
            if event["prev_hash"] != expected_prev:
                problems.append(f"seq {seq}: prev_hash is not the hash of the event before")
                break
            if event_hash(event, event["prev_hash"]) != event["hash"]:
                withheld = event.get("withheld")
                why = f" (fields withheld from this export: {', '.join(withheld)})" if withheld else ""
                problems.append(f"seq {seq}: the event does not match its hash{why}")
                break
            hashes[seq] = event["hash"]
            previous = (seq, event["hash"])
    if previous is None and not problems:
        problems.append("the export holds no event")

    with open(args.checkpoints, encoding="utf-8") as source:
        checkpoints = json.load(source)
    if isinstance(checkpoints, dict):
        checkpoints = checkpoints["items"]
    checked = 0
    last = None
    walked = not problems
    for checkpoint in sorted(checkpoints, key=lambda c: c["number"]):
        number = checkpoint["number"]
        if last is not None and number != last["number"] + 1:
            problems.append(f"checkpoint {last['number'] + 1}: missing")
            break
        key = keys.get(checkpoint["key_id"])
        if key is None:
            problems.append(f"checkpoint {number}: signed by {checkpoint['key_id']}, not a key given with --key")
            break
        try:
            key.verify(bytes.fromhex(checkpoint["signature"]), signed_text(checkpoint))
        except (InvalidSignature, ValueError):
            problems.append(f"checkpoint {number}: the signature does not hold")
            break
        seq = checkpoint["seq"]
        if walked and seq > previous[0]:
            problems.append(f"checkpoint {number}: covers seq {seq}, past the export's last event "
                            f"{previous[0]}: events were removed (or the export is short)")
            break
        if walked and seq in hashes and hashes[seq] != checkpoint["hash"]:
            problems.append(f"checkpoint {number}: the trail at seq {seq} does not have the signed hash")
            break
        checked += 1
        last = checkpoint

    if problems:
        for problem in problems:
            print("FAILED:", problem)
        return 1
    unsigned = previous[0] - (last["seq"] if last else 0)
    print(f"ok: {len(hashes)} events (seq {min(hashes)} to {previous[0]}), {checked} checkpoints; "
          f"head {previous[1]}; {unsigned} events after the last checkpoint")
    return 0


if __name__ == "__main__":
    sys.exit(main())
