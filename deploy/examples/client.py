#!/usr/bin/env python3
"""Publish an event to attune and wait for the execution it causes.

    client.py [--api ENDPOINT] [--timeout S] TRIGGER JSON

    client.py --api tcp://127.0.0.1:5570 mypack.webhook '{"n": 3}'

Connects a DEALER to the api (proto/PROTOCOL.md, "API (issue 4)"), asks
api.hello for the fact endpoint, subscribes to `execution.` facts and to the
executor's heartbeat, waits for the first fact (the subscription is then in
place), publishes the event with api.event.publish and waits for the
terminal fact (execution.completed, failed, timeout, cancelled, abandoned)
of an execution whose `event` is the event's id. Facts it misses are caught
up as PROTOCOL.md says ("Resynchronising after a gap"): a gap in the
executor's sequence numbers is filled from api.execution.changes, an
executor restart (a new publisher id) by listing the executions. Prints the
execution; exits 0 when it completed, 1 when it ended otherwise, on an api
error or when nothing came within the timeout, 2 on bad arguments.

--lose-facts drops every execution fact it receives (the heartbeats pass):
a test of the catch-up, which then finds the outcome.

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


class Stream:
    """The executor's fact stream as PROTOCOL.md's Clone rules read it: the
    meta frame's sequence number per publisher; a gap caught up from
    api.execution.changes, a new publisher (a restart) by listing."""

    TOP = 0x7FFFFFFFFFFFFFFF

    def __init__(self, api):
        self.api, self.publisher, self.last = api, None, 0
        self.event, self.ended, self.shown = None, None, set()
        self.gaps = 0

    def saw(self, execution, status):
        if status not in self.shown:
            self.shown.add(status)
            if status not in TERMINAL:
                print("execution %s %s" % (execution, status))
                sys.stdout.flush()
        if status in TERMINAL:
            self.ended = execution

    def receive(self, frames):
        """One fact: its payload, or None when it is not a well-formed fact or
        is one already covered by a catch-up."""
        if len(frames) != 3 or len(frames[1]) != 16:
            return None
        seq = int.from_bytes(frames[1][:8], "big")
        publisher = int.from_bytes(frames[1][8:], "big") & self.TOP
        if self.publisher is None:
            self.publisher, self.last = publisher, seq   # subscribed before our event
        elif publisher != self.publisher:
            self.publisher = publisher                   # the executor restarted
            self.last = self.catch_up(None)
        elif seq <= self.last:
            return None                                  # in a catch-up already
        elif seq > self.last + 1:
            self.gaps += 1
            sys.stderr.write("client.py: facts %d..%d lost: catching up\n"
                             % (self.last + 1, seq - 1))
            self.last = self.catch_up(self.last)
            if seq <= self.last:
                return None
        self.last = seq
        try:
            return msgpack.unpackb(frames[2], raw=False).get("payload") or {}
        except Exception:
            return None

    def catch_up(self, since):
        """api.execution.changes until `next` is nil: the sequence number the
        stream continues after. A reset (since None, or too old) lists only
        what has not ended: our execution is then looked up by its event."""
        args = {"publisher": self.publisher}
        if since is not None:
            args["since"] = since
        reset = False
        while True:
            answer = self.api.request("api.execution.changes", **args)
            reset = reset or answer["reset"]
            for execution in answer["executions"]:
                if self.event and execution.get("event") == self.event:
                    self.saw(execution["id"], execution["status"])
            if answer["next"] is None:
                break
            args = dict(answer["next"], publisher=answer["publisher"])
        self.publisher = answer["publisher"]
        if reset and self.event and not self.ended:
            for item in self.api.request("api.execution.list", limit=100)["items"]:
                if item.get("event") == self.event:
                    self.saw(item["id"], item["status"])
        return answer["seq"]


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
    parser.add_argument("--lose-facts", action="store_true",
                        help="drop every execution fact received (tests the catch-up)")
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
        facts.setsockopt(zmq.SUBSCRIBE, b"executor.")  # its heartbeat, every second
        deadline = time.monotonic() + args.timeout
        stream = Stream(api)
        #  The subscription is in place once a fact arrives: the heartbeat
        #  comes within a second
        while stream.publisher is None:
            if time.monotonic() >= deadline or not facts.poll(100):
                if time.monotonic() >= deadline:
                    raise ApiError("unavailable", "no fact from the executor")
                continue
            stream.receive(facts.recv_multipart())
        event = api.request("api.event.publish", trigger=args.trigger,
                            payload=payload)["event"]
        print("event %s published" % event)
        sys.stdout.flush()
        stream.event = event
        while time.monotonic() < deadline:
            if not facts.poll(max(1, int(1000 * (deadline - time.monotonic())))):
                continue
            frames = facts.recv_multipart()
            if args.lose_facts and frames[0].startswith(b"execution."):
                continue                      # lost, as a full queue would lose it
            fact = stream.receive(frames)
            if fact is not None and fact.get("event") == event:
                stream.saw(fact.get("execution"), fact.get("status"))
            if stream.ended:
                execution = api.request("api.execution.get", id=stream.ended)
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
