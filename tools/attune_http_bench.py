#!/usr/bin/python3
"""attune-http-bench: webhooks through the HTTP gateway (actors/http) to
completed executions, against the same events published over ZeroMQ, in one
run (issue 20).

    build/attune-http-bench [--seconds S] [--rate R] [--build DIR]

Starts attuned (the build's, a temporary data directory, durable, 256
worker slots as the pipeline bench's core.noop runs) with a rule on
core.st2.webhook {url: bench} -> core.noop, then drives
POST /api/v1/webhooks/bench with wrk (Debian's; deploy/setup.sh bench-deps):

 1. throughput: wrk unpaced (2 threads, 48 connections) for S seconds;
    completed executions per second, from the first webhook sent to the last
    execution ended.
 2. latency at R webhooks/s (default 1,000; wrk paced per connection with
    its delay() hook, 55 connections each waiting 50 ms after an answer, so
    about R): per webhook, from the time wrk put in its body to its
    execution's end (both wall clock, one host): p50, p99, max; and wrk's own
    latency of the 202 (durable) answer.

Then attune-pipeline-bench (the same events -> core.noop published over
ZeroMQ, bus_link event.create to the rules actor, durable) in the same run,
and the ratios. Figures only: nothing here passes or fails.
"""
import argparse
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_usec; } attune_timeval;
int gettimeofday(attune_timeval *tv, void *tz);
]]
local tv = ffi.new("attune_timeval")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["St2-Api-Key"] = os.getenv("BENCH_KEY")
local pace = tonumber(os.getenv("BENCH_PACE_MS") or "0")
function request()
  ffi.C.gettimeofday(tv, nil)
  local t = tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
  return wrk.format(nil, nil, nil, string.format('{"t": %d}', t))
end
if pace > 0 then
  function delay() return pace end
end
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def usec(iso):
    d = datetime.datetime.strptime(iso.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return int(d.replace(tzinfo=datetime.timezone.utc).timestamp() * 1e6)


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0


class Gateway:
    def __init__(self, port, key):
        self.port, self.key = port, key

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        c.request("GET", "/api/v1" + path, headers={"St2-Api-Key": self.key})
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 200:
            sys.exit("attune-http-bench: GET %s: %s %s" % (path, r.status, body[:200]))
        return json.loads(body)

    def all(self, path):
        items, offset = [], 0
        while True:
            page = self.get("%s%slimit=1000&offset=%d" % (path, "&" if "?" in path else "?", offset))
            items += page
            offset += len(page)
            if len(page) < 1000:
                return items


def wrk(url, key, seconds, threads, connections, pace_ms, lua):
    env = dict(os.environ, BENCH_KEY=key, BENCH_PACE_MS=str(pace_ms))
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d",
                          "%ds" % seconds, "--latency", "-s", lua, url],
                         env=env, capture_output=True, text=True, check=True).stdout
    sent = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    return sent, int(bad.group(1)) if bad else 0, p99.group(1) if p99 else "?", out


def settle(gw, since, expected, timeout=120):
    """The executions of the webhooks sent after `since` (us), once `expected`
    of them ended: [(sent, ended)]"""
    deadline = time.time() + timeout
    #  Cheap polls until nothing is left to run (listing every execution
    #  while they run would slow the executor being measured)
    while time.time() < deadline and any(
            gw.get("/executions?action=core.noop&limit=1&status=" + status)
            for status in ("requested", "delayed", "scheduled", "running")):
        time.sleep(0.5)
    while True:
        sent = {}
        for ti in gw.all("/triggerinstances?trigger=core.st2.webhook"):
            t = ((ti.get("payload") or {}).get("body") or {}).get("t")
            if isinstance(t, int) and t >= since:
                sent[ti["id"]] = t
        pairs = []
        for e in gw.all("/executions?action=core.noop&exclude_attributes=result"):
            tid = (e.get("trigger_instance") or {}).get("id")
            if tid in sent and e.get("end_timestamp"):
                pairs.append((sent[tid], usec(e["end_timestamp"])))
        if len(pairs) >= expected or time.time() > deadline:
            return pairs
        time.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--build", default=HERE)
    o = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("attune-http-bench: wrk is not installed (deploy/setup.sh bench-deps)")
    build, source = o.build, os.path.dirname(os.path.abspath(os.path.realpath(__file__)))
    source = os.path.dirname(source) if os.path.basename(source) == "tools" else source
    root = tempfile.mkdtemp(prefix="attune-http-bench-")
    daemon = None
    try:
        packs = os.path.join(root, "packs")
        os.makedirs(os.path.join(packs, "bench", "rules"))
        os.symlink(os.path.join(source, "packs", "core"), os.path.join(packs, "core"))
        open(os.path.join(packs, "bench", "pack.yaml"), "w").write(
            "ref: bench\nname: bench\nversion: 1.0.0\n")
        open(os.path.join(packs, "bench", "rules", "hook.yaml"), "w").write(
            "name: hook\npack: bench\ntrigger:\n  type: core.st2.webhook\n"
            "  parameters:\n    url: bench\naction:\n  ref: core.noop\n")
        data = os.path.join(root, "data")
        key = subprocess.run([os.path.join(build, "attune"), "apikey", "create", "bench",
                              "--role", "operator", "--data", data], capture_output=True,
                             text=True, check=True).stdout.split("\n")[0]
        port = free_port()
        log = open(os.path.join(root, "attuned.log"), "w")
        daemon = subprocess.Popen(
            [os.path.join(build, "attuned"), "--data", data, "--packs", packs, "--api",
             "tcp://127.0.0.1:%d" % free_port(), "--api-facts",
             "tcp://127.0.0.1:%d" % free_port(), "--http", "127.0.0.1:%d" % port,
             "--worker-slots", "256"],
            stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if "attuned: running" in open(log.name).read():
                break
            time.sleep(0.05)
        else:
            sys.exit("attune-http-bench: attuned did not start:\n" + open(log.name).read())
        gw = Gateway(port, key)
        lua = os.path.join(root, "bench.lua")
        open(lua, "w").write(LUA)
        url = "http://127.0.0.1:%d/api/v1/webhooks/bench" % port
        print("attune-http-bench: attuned %s, durable, data %s" % (build, root))

        since = int(time.time() * 1e6)
        sent, bad, p99, _ = wrk(url, key, o.seconds, 2, 48, 0, lua)
        pairs = settle(gw, since, sent - bad)
        span = (max(e for _, e in pairs) - min(s for s, _ in pairs)) / 1e6
        http_rate = len(pairs) / span
        print("  webhook -> core.noop, wrk unpaced     %9.0f exec/s   (%d webhooks, %d "
              "not 202; 202 p99 %s)" % (http_rate, sent, bad, p99))

        #  wrk's delay() runs after each answer: 55 connections (under the
        #  gateway's 64 a client address) each waiting 50 ms after an answer
        #  (of about 5 ms); the rate reached is what is printed
        pace = 50
        connections = max(1, min(60, o.rate * (pace + 5) // 1000))
        since = int(time.time() * 1e6)
        sent, bad, p99, _ = wrk(url, key, o.seconds, 2, connections, pace, lua)
        pairs = settle(gw, since, sent - bad)
        lat = [(e - s) / 1000.0 for s, e in pairs]
        rate = sent / float(o.seconds)
        http_p99 = pct(lat, 0.99)
        print("  webhook -> core.noop at %5.0f/s (%d)  p50 %7.2f ms   p99 %7.2f ms   max "
              "%7.2f ms   (202 p99 %s)" % (rate, len(lat), pct(lat, 0.5), http_p99,
                                           max(lat) if lat else 0, p99))
        daemon.terminate()
        daemon.wait(timeout=30)
        daemon = None

        bench = subprocess.run([os.path.join(build, "attune-pipeline-bench"), "--quick",
                                "--rate", str(o.rate)],
                               capture_output=True, text=True)
        out = bench.stdout
        zmq_rate = re.search(r"events -> core\.noop.*?\s(\d+) exec/s", out)
        zmq_p99 = re.search(r"events -> core\.noop at .*?p99\s+([\d.]+) ms", out)
        print("  over ZeroMQ (attune-pipeline-bench --quick, the same run):")
        for line in out.splitlines():
            if "core.noop" in line:
                print("  " + line.strip())
        if zmq_rate and zmq_p99:
            print("  HTTP / ZeroMQ: throughput %.2f, p99 at %d/s %.2fx" % (
                http_rate / float(zmq_rate.group(1)), o.rate,
                http_p99 / float(zmq_p99.group(1))))
    finally:
        if daemon:
            daemon.kill()
            daemon.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
