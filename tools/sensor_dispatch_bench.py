#!/usr/bin/python3
"""Events per second through a Python sensor's sensor_service.dispatch
(durable: each call returns once attune stored the event), against a
running attuned.

    PYTHONPATH=python tools/sensor_dispatch_bench.py --api tcp://127.0.0.1:5570 \
        --trigger mypack.event [--count 2000]

The trigger type must exist (a pack's triggers/ or sensors/, or
`attune trigger create`). Prints one line: count, seconds, events/s.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

from attune_st2.sensor_service import SensorService  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--api", default=os.environ.get("ATTUNE_API", "tcp://127.0.0.1:5570"))
    parser.add_argument("--trigger", required=True)
    parser.add_argument("--count", type=int, default=2000)
    args = parser.parse_args()
    service = SensorService("bench.Sensor", args.trigger.partition(".")[0], endpoint=args.api)
    start = time.monotonic()
    for n in range(args.count):
        service.dispatch(args.trigger, {"n": n})
    elapsed = time.monotonic() - start
    print("sensor_service.dispatch: %d events in %.3f s: %.0f events/s (durable, one sensor)"
          % (args.count, elapsed, args.count / elapsed))


if __name__ == "__main__":
    main()
