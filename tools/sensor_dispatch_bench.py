#!/usr/bin/python3
"""Events per second through a Python sensor's sensor_service.dispatch
(durable: each call returns once attune stored the event), against a
running attuned.

    PYTHONPATH=python tools/sensor_dispatch_bench.py --api tcp://127.0.0.1:5570 \\
        --trigger mypack.event [--count 2000] [--threads 1,4,16]

The trigger type must exist (a pack's triggers/ or sensors/, or
`attune trigger create`). Prints one line per thread count: count, seconds,
events/s. One thread is a sensor dispatching from one loop: one commit per
event. Several threads of the same sensor (one SensorService) dispatching
at once share the rules actor's commits (group commit), each call still
durable before it returns.
"""
import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from attune_st2.sensor_service import SensorService  # noqa: E402


def run(service, trigger, count, threads):
    def work(first, last):
        for n in range(first, last):
            service.dispatch(trigger, {"n": n})

    share = [(i * count // threads, (i + 1) * count // threads) for i in range(threads)]
    workers = [threading.Thread(target=work, args=bounds) for bounds in share]
    start = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default=os.environ.get("ATTUNE_API", "tcp://127.0.0.1:5570"))
    parser.add_argument("--trigger", required=True)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--threads", default="1",
                        help="comma-separated thread counts, one run each (default 1)")
    args = parser.parse_args()
    service = SensorService("bench.Sensor", args.trigger.partition(".")[0], endpoint=args.api)
    for threads in [int(t) for t in args.threads.split(",")]:
        elapsed = run(service, args.trigger, args.count, threads)
        print("sensor_service.dispatch: %d events in %.3f s: %.0f events/s "
              "(durable, one sensor, %d thread%s)"
              % (args.count, elapsed, args.count / elapsed, threads, "" if threads == 1 else "s"))


if __name__ == "__main__":
    main()
