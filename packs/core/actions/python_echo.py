#!/usr/bin/env python3
"""core.python_echo: parameters arrive as JSON on stdin; the result is the
JSON printed on stdout (attune parses it into the execution's result)."""
import json
import sys

params = json.load(sys.stdin)
message = params["message"]
count = int(params.get("count", 1))
json.dump({"message": message, "repeated": [message] * count, "length": len(message)},
          sys.stdout)
