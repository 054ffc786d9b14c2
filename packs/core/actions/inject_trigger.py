#!/usr/bin/env python3
"""core.inject_trigger: publish an event with `attune event publish` (argv,
no shell)."""
import json
import subprocess
import sys

params = json.load(sys.stdin)
trigger = params.get("trigger_name") or params.get("trigger")
if not trigger:
    sys.stderr.write("inject_trigger: trigger_name (or trigger) is required\n")
    sys.exit(2)
payload = dict(params.get("payload") or {})
if params.get("trace_tag"):
    payload["__trace_tag"] = params["trace_tag"]
done = subprocess.run(["attune", "event", "publish", trigger, json.dumps(payload)],
                      capture_output=True, text=True)
sys.stderr.write(done.stderr)
if done.returncode != 0:
    sys.exit(done.returncode)
json.dump({"trigger": trigger, "event": done.stdout.strip()}, sys.stdout)
