#!/usr/bin/env python3
"""core.uuid: a new UUID as the result (a JSON string on stdout)."""
import json
import sys
import uuid

params = json.load(sys.stdin)
kind = params.get("uuid_type", "uuid4")
json.dump(str(uuid.uuid1() if kind == "uuid1" else uuid.uuid4()), sys.stdout)
