#!/usr/bin/python3
"""attune-output-bench: live output (issue 21; proto/PROTOCOL.md, "Live
output"): how many chunks a second the path worker -> executor (stored,
published) carries from chatty actions, and what streaming costs the worker.

    build/attune-output-bench [--executions N] [--parallel P] [--lines L]
                              [--chatty C] [--build DIR]

Starts attuned (the build's, a temporary data directory, durable) twice:

 1. chunks/s: with --worker-output 16384 (16 MiB per execution, the
    executor's own bound), C executions (default 8) of `yes | head -c 16M`
    at once; the chunks stored (api.execution.output), from the first run
    request to the last end: chunks/s and MB/s.
 2. cost: N executions (default 400, P in flight, default 8) of a shell
    loop printing L lines (default 10,000), once with live output (the
    default cap, 4 MiB) and once without (--worker-output 0: the output only
    in the result at the end): executions/s and the daemon's CPU seconds
    per execution (utime + stime of attuned, from /proc), and the ratios.

Figures only: nothing here passes or fails. Needs python3-zmq and
python3-msgpack.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    def __init__(self, build, source, root, extra):
        self.root = root
        packs = os.path.join(root, "packs")
        os.makedirs(os.path.join(packs, "bench", "actions"))
        os.symlink(os.path.join(source, "packs", "core"), os.path.join(packs, "core"))
        with open(os.path.join(packs, "bench", "pack.yaml"), "w") as f:
            f.write("ref: bench\nname: bench\nversion: 1.0.0\n")
        self.api = "tcp://127.0.0.1:%d" % free_port()
        self.facts = "tcp://127.0.0.1:%d" % free_port()
        self.log = os.path.join(root, "attuned.log")
        self.packs = packs
        self.build, self.extra = build, extra

    def action(self, name, command):
        with open(os.path.join(self.packs, "bench", "actions", name + ".yaml"), "w") as f:
            f.write("name: %s\nrunner_type: local-shell-cmd\nentry_point: '%s'\n"
                    % (name, command))

    def start(self):
        argv = [os.path.join(self.build, "attuned"), "--data",
                os.path.join(self.root, "data"), "--packs", self.packs, "--api",
                self.api, "--api-facts", self.facts, "--actors",
                "registry,executor,rules,worker,api", "--worker-slots", "16"] + self.extra
        self.proc = subprocess.Popen(argv, stdout=open(self.log, "w"),
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if "attuned: running" in open(self.log).read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        sys.exit("attuned did not start:\n" + open(self.log).read())

    def cpu_seconds(self):
        fields = open("/proc/%d/stat" % self.proc.pid).read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Client:
    """Requests on a DEALER, ends from the fact stream (execution.* facts)."""

    def __init__(self, daemon):
        sys.path.insert(0, os.path.join(daemon.build_source, "python"))
        from attune_st2.api import Api
        self.api = Api(daemon.api, timeout=30.0)
        self.sub = zmq.Context.instance().socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"execution.")
        self.sub.connect(daemon.facts)
        time.sleep(0.3)  # the slow joiner

    def run(self, action):
        return self.api.request("api.execution.run", action=action, parameters={})[
            "execution"]

    def ended(self, timeout):
        """Ids of executions that ended, as their facts come (until timeout)."""
        ends = []
        if not self.sub.poll(int(timeout * 1000)):
            return ends
        while self.sub.poll(0):
            frames = self.sub.recv_multipart()
            topic = frames[0].decode()
            if topic.split(".", 1)[1] in ("completed", "failed", "timeout",
                                           "cancelled", "abandoned"):
                envelope = msgpack.unpackb(frames[-1], raw=False)
                ends.append((envelope["payload"]["execution"], topic))
        return ends

    def chunks(self, execution):
        count, size, offset = 0, 0, 0
        while True:
            answer = self.api.request("api.execution.output", id=execution, offset=offset)
            for chunk in answer["chunks"]:
                count += 1
                size += len(chunk["data"].encode())
            if not answer["chunks"]:
                return count, size
            offset = answer["next"]

    def close(self):
        self.api.close()
        self.sub.close(0)


def drive(client, action, total, parallel):
    """Run `total` executions, `parallel` in flight; seconds from the first
    request to the last end, and the statuses."""
    start = time.monotonic()
    sent, running, statuses = 0, set(), {}
    while len(statuses) < total:
        while sent < total and len(running) < parallel:
            running.add(client.run(action))
            sent += 1
        for execution, topic in client.ended(30.0):
            if execution in running:
                running.discard(execution)
                statuses[execution] = topic
        if time.monotonic() - start > 600:
            sys.exit("the executions did not end within 600 s")
    return time.monotonic() - start, statuses


def with_daemon(args, extra, fn):
    root = tempfile.mkdtemp(prefix="attune-output-bench-")
    daemon = Daemon(args.build, args.source, root, extra)
    daemon.build_source = args.source
    daemon.action("chatty", "yes | head -c 16000000")
    daemon.action("lines", "i=0; while [ $i -lt %d ]; do echo \"line $i of the bench\"; "
                  "i=$((i+1)); done" % args.lines)
    daemon.start()
    client = Client(daemon)
    try:
        return fn(daemon, client)
    finally:
        client.close()
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def chunks_per_second(args):
    def fn(daemon, client):
        seconds, statuses = drive(client, "bench.chatty", args.chatty, args.chatty)
        count = size = 0
        for execution in statuses:
            c, s = client.chunks(execution)
            count, size = count + c, size + s
        return seconds, count, size
    seconds, count, size = with_daemon(args, ["--worker-output", "16384"], fn)
    print("chunks: %d executions of `yes | head -c 16M` at once: %d chunks, %.1f MB "
          "streamed in %.2f s: %.0f chunks/s, %.1f MB/s"
          % (args.chatty, count, size / 1e6, seconds, count / seconds,
             size / 1e6 / seconds))


def cost(args, extra, label):
    def fn(daemon, client):
        drive(client, "bench.lines", min(args.parallel * 2, args.executions),
              args.parallel)  # warm up
        cpu = daemon.cpu_seconds()
        seconds, statuses = drive(client, "bench.lines", args.executions, args.parallel)
        cpu = daemon.cpu_seconds() - cpu
        chunks = client.chunks(next(iter(statuses)))[0]
        ok = sum(1 for t in statuses.values() if t == "execution.completed")
        return seconds, cpu, chunks, ok
    seconds, cpu, chunks, ok = with_daemon(args, extra, fn)
    rate = args.executions / seconds
    print("cost: %-28s %d executions (%d completed) of %d lines in %.2f s: %.1f "
          "executions/s, %.2f ms of daemon CPU each, %d chunks each"
          % (label, args.executions, ok, args.lines, seconds, rate,
             cpu * 1000 / args.executions, chunks))
    return rate, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--executions", type=int, default=400)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--chatty", type=int, default=8)
    parser.add_argument("--build", default=HERE)
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    cache = open(os.path.join(args.build, "CMakeCache.txt")).read()
    args.source = [line.split("=", 1)[1] for line in cache.splitlines()
                   if line.startswith("CMAKE_HOME_DIRECTORY")][0]
    chunks_per_second(args)
    on_rate, on_cpu = cost(args, [], "live output on (4 MiB cap):")
    off_rate, off_cpu = cost(args, ["--worker-output", "0"], "live output off:")
    print("ratio: executions/s on/off %.3f; daemon CPU per execution on/off %.3f"
          % (on_rate / off_rate, on_cpu / off_cpu if off_cpu else float("nan")))


if __name__ == "__main__":
    main()
