#!/usr/bin/env python3
"""core.pause: sleep, then return the seconds slept (parameters as JSON on
stdin, attune's python contract)."""
import json
import random
import sys
import time

params = json.load(sys.stdin)
seconds = int(params["max_pause"])
if params.get("random"):
    seconds = random.randint(0, max(seconds, 0))
time.sleep(max(seconds, 0))
json.dump(seconds, sys.stdout)
