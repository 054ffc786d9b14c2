#!/usr/bin/env python3
"""Publish an event to attune and wait for the execution it causes.

    client.py [--api ENDPOINT] [--timeout S] TRIGGER JSON

    client.py --api tcp://127.0.0.1:5570 mypack.webhook '{"n": 3}'

Connects a DEALER to the api (proto/PROTOCOL.md, "API (issue 4)"), asks
api.hello for the fact endpoint, subscribes to `execution.` facts, publishes
the event with api.event.publish and waits for the terminal fact
(execution.completed, failed, timeout, cancelled, abandoned) of an execution
whose `event` is the event's id. Prints it; exits 0 when it completed, 1 when
it ended otherwise, on an api error or when nothing came within the timeout,
2 on bad arguments.

Needs nothing but Debian's python3-zmq and python3-msgpack.
"""
import argparse
import json
import os
import socket
import sys
import time

try:
    import msgpack
    import zmq
except ImportError as error:
    sys.stderr.write("client.py: %s (apt-get install python3-zmq python3-msgpack)\n" % error)
    sys.exit(1)

TERMINAL = ("completed", "failed", "timeout", "cancelled", "abandoned")
MAX_FRAME = 1024 * 1024 + 4096


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code


def uuid7():
    """A time-ordered UUID (RFC 9562 version 7), as attune makes them."""
    raw = bytearray((time.time_ns() // 1000000).to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return bytes(raw)


class Api:
    """Requests to the api: one frame out, one frame back with corr = our id.
    Without a reply in half the timeout the request is sent again with the
    same id (the api is idempotent by request id)."""

    def __init__(self, ctx, endpoint, timeout):
        self.endpoint = endpoint
        self.timeout = timeout
        self.source = "client.py@" + (socket.gethostname() or "localhost")
        self.sock = ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
        self.sock.connect(endpoint)

    def request(self, op, **payload):
        rid = uuid7()
        envelope = {"v": 1, "id": rid, "type": op, "source": self.source,
                    "ts": time.time_ns() // 1000, "corr": None, "trace": None,
                    "retry": 0, "payload": payload}
        self.sock.send(msgpack.packb(envelope, use_bin_type=True))
        start = time.monotonic()
        resend_at, deadline = start + self.timeout / 2, start + self.timeout
        resent = False
        while True:
            now = time.monotonic()
            if now >= deadline:
                raise ApiError("unavailable", "no reply from the api at %s within %.1f s"
                               % (self.endpoint, self.timeout))
            if not resent and now >= resend_at:
                envelope["retry"] = 1
                self.sock.send(msgpack.packb(envelope, use_bin_type=True))
                resent = True
            wait = (deadline if resent else resend_at) - now
            if not self.sock.poll(max(1, int(wait * 1000))):
                continue
            frames = self.sock.recv_multipart()
            try:
                reply = msgpack.unpackb(frames[0], raw=False) if len(frames) == 1 else None
            except Exception:
                reply = None
            if not isinstance(reply, dict) or reply.get("corr") != rid:
                continue                  # not ours: a late reply to an earlier request
            body = reply.get("payload") or {}
            if reply.get("type") == "api.error":
                raise ApiError(body.get("code", "error"), body.get("message", ""))
            return body.get("result")


def facts_endpoint(api, facts):
    """The fact endpoint, a wildcard host (0.0.0.0, *) replaced by the api's."""
    if facts.startswith("tcp://") and api.startswith("tcp://"):
        host, _, port = facts[6:].rpartition(":")
        if host in ("0.0.0.0", "*", "[::]"):
            return "tcp://%s:%s" % (api[6:].rpartition(":")[0], port)
    return facts


def show(execution):
    print("execution %s (%s) %s" % (execution.get("execution") or execution.get("id"),
                                    execution.get("action"), execution.get("status")))
    print(json.dumps(execution.get("result"), indent=2, sort_keys=True))
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description="Publish an attune event and wait for "
                                     "the execution it causes.")
    parser.add_argument("--api", default=os.environ.get("ATTUNE_API", "tcp://127.0.0.1:5570"))
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds to wait for the execution to end (default 20)")
    parser.add_argument("trigger")
    parser.add_argument("payload", help="the event's payload, a JSON object")
    args = parser.parse_args()
    try:
        payload = json.loads(args.payload)
    except ValueError as error:
        parser.error("JSON: %s" % error)
    if not isinstance(payload, dict):
        parser.error("JSON: the payload must be an object")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")

    ctx = zmq.Context()
    try:
        api = Api(ctx, args.api, min(args.timeout, 10.0))
        facts = ctx.socket(zmq.SUB)
        facts.setsockopt(zmq.LINGER, 0)
        facts.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
        facts.connect(facts_endpoint(args.api, api.request("api.hello")["facts"]))
        facts.setsockopt(zmq.SUBSCRIBE, b"execution.")
        time.sleep(0.2)                       # let the subscription travel upstream
        event = api.request("api.event.publish", trigger=args.trigger,
                            payload=payload)["event"]
        print("event %s published" % event)
        sys.stdout.flush()

        #  Wait for the terminal fact. A SUB can miss facts (a subscription
        #  still on its way, a full queue), so the execution list is also
        #  read once a second: a lost fact costs a second, not the timeout.
        deadline = time.monotonic() + args.timeout
        next_poll = time.monotonic() + 1.0
        seen = set()
        while time.monotonic() < deadline:
            wait = max(1, int(1000 * (min(deadline, next_poll) - time.monotonic())))
            if facts.poll(wait):
                frames = facts.recv_multipart()
                if len(frames) != 3:
                    continue
                fact = msgpack.unpackb(frames[2], raw=False).get("payload") or {}
                if fact.get("event") != event:
                    continue
                if fact.get("status") not in seen:
                    seen.add(fact.get("status"))
                    if fact.get("status") not in TERMINAL:
                        print("execution %s (%s) %s" % (fact.get("execution"),
                                                        fact.get("action"), fact.get("status")))
                if fact.get("status") in TERMINAL:
                    show(fact)
                    return 0 if fact["status"] == "completed" else 1
            if time.monotonic() >= next_poll:
                next_poll = time.monotonic() + 1.0
                for item in api.request("api.execution.list", limit=100)["items"]:
                    if item.get("event") == event and item.get("status") in TERMINAL:
                        execution = api.request("api.execution.get", id=item["id"])
                        show(execution)
                        return 0 if execution["status"] == "completed" else 1
        sys.stderr.write("client.py: no execution of event %s ended within %.1f s\n"
                         % (event, args.timeout))
        return 1
    except ApiError as error:
        sys.stderr.write("client.py: %s\n" % error)
        return 1
    finally:
        ctx.destroy(linger=0)


if __name__ == "__main__":
    sys.exit(main())
