"""What the worker runs for a python-script action (actors/worker/worker_python.c).

Reads one JSON object on stdin:

    {"entry_point": "/abs/path/action.py", "action": "pack.name", "pack": "pack",
     "parameters": {...}, "config": {...}, "marker": "<random>", "log_level": "debug"}

loads the module, finds its Action subclass, constructs it with the pack's
config and calls run(**parameters). The outcome goes on stdout after
whatever the action printed, as one line:

    \n<marker>{"status": "succeeded" | "failed", "result": ..., "error"?: "..."}\n

The worker takes the last such line (the marker is random per execution, so
an action cannot forge it by accident) and gives the stdout before it as
the action's stdout. As StackStorm's python runner: a (bool, result) tuple
sets the status by the bool; any other value succeeds; an exception fails,
its traceback on stderr and its text in "error". Exit code 0 when the
action ran (even returning failure), 1 when it raised, 2 when it could not
be loaded.
"""
import os
import sys

RUNNER_PARAMETERS = ("env", "timeout", "log_level")


# JSON through the json module's C accelerator (_json) directly: importing
# `json` imports `re`, enum and functools, a third of a bare interpreter's
# start, for every action. The json module when _json is missing or fails.
class _Decoding:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float
    memo = {}


def _loads(text):
    try:
        import _json
        scan = _json.make_scanner(_Decoding)
        start = len(text) - len(text.lstrip())
        value, end = scan(text, start) if start < len(text) else ({}, start)
        if text[end:].strip():
            raise ValueError("extra data after the JSON value")
        return value
    except ImportError:
        import json
        return json.loads(text or "{}")


def _dumps(value):
    try:
        import _json
        encode = _json.make_encoder({}, repr, _json.encode_basestring_ascii, None,
                                    ": ", ", ", False, False, True)
        return "".join(encode(value, 0))
    except (ImportError, TypeError, ValueError, OverflowError, RecursionError):
        import json
        return json.dumps(value, default=repr)


def _emit(marker, outcome):
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        text = _dumps(outcome)
    except (TypeError, ValueError, RecursionError) as error:
        text = _dumps({"status": "failed", "result": None,
                       "error": "the result is not serialisable: %s" % error})
    out = sys.__stdout__
    out.write("\n" + marker + text + "\n")
    out.flush()


def _load_class(path, pack_dir):
    import types
    from attune_st2.action import Action
    if not os.path.isfile(path):
        raise ImportError("entry point %s: no such file" % path)
    # As StackStorm: the action's folder and the pack's actions/lib importable
    for extra in (os.path.join(pack_dir, "actions", "lib") if pack_dir else None,
                  os.path.dirname(path)):
        if extra and extra not in sys.path:
            sys.path.insert(0, extra)
    name = "attune_action_" + os.path.splitext(os.path.basename(path))[0]
    # The module as an import would make it (without importlib's machinery,
    # a few ms a run): its __file__, in sys.modules while it runs
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    with open(path, "rb") as source:
        code = compile(source.read(), path, "exec")
    exec(code, module.__dict__)
    found = [cls for cls in module.__dict__.values()
             if isinstance(cls, type) and issubclass(cls, Action) and cls is not Action]
    own = [cls for cls in found if cls.__module__ == name]
    found = own or found
    if not found:
        raise ImportError("%s: no class derived from Action" % path)
    return found[0]


def _arguments(run, parameters):
    """The parameters run() takes: runner parameters (env, timeout,
    log_level) only when it names them or takes **kwargs."""
    code = getattr(getattr(run, "__func__", run), "__code__", None)
    if code is None:
        return dict(parameters)
    count = code.co_argcount + code.co_kwonlyargcount
    named = set(code.co_varnames[:count])
    variadic = bool(code.co_flags & 0x08)  # CO_VARKEYWORDS
    return {k: v for k, v in parameters.items()
            if k not in RUNNER_PARAMETERS or k in named or variadic}


def _outcome(value):
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        return {"status": "succeeded" if value[0] else "failed", "result": value[1]}
    return {"status": "succeeded", "result": value}


def main():
    request = _loads(sys.stdin.read())
    marker = request.get("marker") or "%%attune-result%%"
    os.environ["ATTUNE_ACTION"] = request.get("action") or ""
    os.environ["ATTUNE_PACK"] = request.get("pack") or ""
    if request.get("log_level"):
        os.environ["ATTUNE_LOG_LEVEL"] = str(request["log_level"])
    try:
        cls = _load_class(request.get("entry_point") or "", request.get("pack_dir"))
        action = cls(config=request.get("config") or {})
        # A subclass whose __init__ did not call Action's still gets these
        if "config" not in action.__dict__:
            action.config = request.get("config") or {}
        action.entry_point = request.get("entry_point")
    except BaseException as error:  # noqa: B902 - anything the module raises
        import traceback
        traceback.print_exc()
        _emit(marker, {"status": "failed", "result": None,
                       "error": "cannot load the action: %s: %s"
                       % (type(error).__name__, error)})
        return 2
    try:
        value = action.run(**_arguments(action.run, request.get("parameters") or {}))
    except BaseException as error:  # noqa: B902 - SystemExit included, as st2
        import traceback
        traceback.print_exc()
        _emit(marker, {"status": "failed", "result": None,
                       "error": "%s: %s" % (type(error).__name__, error)})
        return 1
    _emit(marker, _outcome(value))
    return 0


if __name__ == "__main__":
    # Run as a script, Python put attune_st2/ itself first on the path,
    # where its modules (api, action ...) would shadow an action's own
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))
    sys.exit(main())
