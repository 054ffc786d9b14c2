#!/usr/bin/env python3
"""A datastore client for tests/test_datastore*.c: one api.key.* request
through deploy/examples/client.py's Api (python3-zmq, python3-msgpack).

    kv_client.py ENDPOINT OPERATION JSON-PAYLOAD

Prints the result as JSON and exits 0, or prints "CODE: MESSAGE" on stderr
and exits 1.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "deploy", "examples"))
import client  # noqa: E402
import zmq  # noqa: E402


def main():
    endpoint, op, payload = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    api = client.Api(zmq.Context.instance(), endpoint, 10.0)
    try:
        result = api.request(op, **payload)
    except client.ApiError as error:
        sys.stderr.write("%s\n" % error)
        return 1
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
