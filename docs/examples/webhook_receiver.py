#!/usr/bin/env python3
"""A receiver for Graine's webhook deliveries, in Python 3's standard library alone.

It checks each delivery's Standard Webhooks signature, drops the deliveries it has already seen (by
`webhook-id`, the event's id), appends each new event to a JSON-lines file, and answers 204 at once.
Whatever consumes the events reads that file; nothing slow happens before the answer.

    WEBHOOK_SECRET=whsec_... python3 webhook_receiver.py

Settings, from the environment:
    WEBHOOK_SECRET  the endpoint's secret, `whsec_<base64>` (required)
    PORT            the port to listen on (default 8000)
    EVENTS_FILE     where to append the events (default events.jsonl); the ids already in it are
                    not stored again after a restart
"""

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60  # how far webhook-timestamp may be from this machine's clock
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_SIGNATURES = 10


def signing_key(secret):
    """The HMAC key: the bytes that the base64 after `whsec_` decodes to (not the text itself)."""
    if not secret.startswith("whsec_"):
        raise SystemExit("WEBHOOK_SECRET must be the endpoint's secret, whsec_<base64>")
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def signature_is_valid(key, msg_id, timestamp, body, header):
    """Whether any `v1,<base64>` signature of the header signs `<id>.<timestamp>.<body>` with the key."""
    expected = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    valid = False
    for item in header.split()[:MAX_SIGNATURES]:
        version, _, encoded = item.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except ValueError:
            continue
        # Constant time, and every signature is checked, so timing says nothing about which one matched.
        valid |= hmac.compare_digest(expected, given)
    return valid


class EventLog:
    """The events received, one JSON object a line, and the ids already stored (to drop duplicates)."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.seen = set()
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    try:
                        self.seen.add(json.loads(line)["event_id"])
                    except (ValueError, KeyError, TypeError):
                        pass
        self.file = open(path, "a", encoding="utf-8")

    def add(self, event):
        """Stores the event unless its id was stored before; returns whether it was new."""
        with self.lock:
            if event["event_id"] in self.seen:
                return False
            self.file.write(json.dumps(event, separators=(",", ":")) + "\n")
            self.file.flush()
            os.fsync(self.file.fileno())  # stored for good before the 2xx: a crash loses nothing
            self.seen.add(event["event_id"])
            return True


class Receiver(BaseHTTPRequestHandler):
    key = b""
    events = None

    def do_POST(self):
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signatures = self.headers.get("webhook-signature", "")
        # Cheap checks first, before reading the body.
        if not (msg_id and timestamp.isdigit() and signatures):
            return self.answer(400, "missing webhook headers")
        if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return self.answer(401, "timestamp too old or too new")
        try:
            length = int(self.headers.get("content-length", ""))
        except ValueError:
            return self.answer(411, "content-length required")
        if not 0 <= length <= MAX_BODY_BYTES:
            return self.answer(413, "body too large")
        body = self.rfile.read(length)
        if not signature_is_valid(self.key, msg_id, timestamp, body, signatures):
            return self.answer(401, "bad signature")
        try:
            event = json.loads(body)
        except ValueError:
            return self.answer(400, "body is not JSON")
        if not isinstance(event, dict) or event.get("event_id") != msg_id:
            return self.answer(400, "webhook-id is not the event's id")
        if self.events.add(event):
            self.log_message("stored %s %s", msg_id, event.get("type"))
        else:
            self.log_message("duplicate %s dropped", msg_id)
        self.answer(204)

    def answer(self, status, reason=None):
        if reason:
            self.log_message("refused (%d): %s", status, reason)
            self.close_connection = True  # the body may not have been read
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()


def main():
    Receiver.key = signing_key(os.environ.get("WEBHOOK_SECRET", ""))
    Receiver.events = EventLog(os.environ.get("EVENTS_FILE", "events.jsonl"))
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Receiver)
    print(f"listening on port {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
