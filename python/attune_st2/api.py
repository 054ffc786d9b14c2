"""One request to attune's api (proto/PROTOCOL.md, "API"): an envelope
packed with msgpack on a DEALER, the reply matched by `corr`, the request
sent again once with the same id when no reply came in half the timeout (the
api is idempotent by request id). Needs python3-zmq and python3-msgpack."""
import os
import socket
import time

MAX_FRAME = 1024 * 1024 + 4096


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__("%s: %s" % (code, message))
        self.code = code
        self.message = message


def _uuid7():
    raw = bytearray((time.time_ns() // 1000000).to_bytes(6, "big") + os.urandom(10))
    raw[6] = 0x70 | (raw[6] & 0x0F)
    raw[8] = 0x80 | (raw[8] & 0x3F)
    return bytes(raw)


class Api:
    def __init__(self, endpoint, timeout=10.0):
        import zmq  # imported here: an action that never uses the api needs no pyzmq
        self._zmq = zmq
        self.endpoint = endpoint
        self.timeout = timeout
        self.source = "python-action@" + (socket.gethostname() or "localhost")
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.MAXMSGSIZE, MAX_FRAME)
        self.sock.connect(endpoint)

    def close(self):
        self.sock.close(0)

    def request(self, op, **payload):
        import msgpack
        rid = _uuid7()
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
                continue
            body = reply.get("payload") or {}
            if reply.get("type") == "api.error":
                raise ApiError(body.get("code", "error"), body.get("message", ""))
            return body.get("result")
