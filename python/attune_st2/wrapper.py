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
import importlib.util
import inspect
import json
import os
import sys
import traceback

RUNNER_PARAMETERS = ("env", "timeout", "log_level")


def _emit(marker, outcome):
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        text = json.dumps(outcome, default=repr)
    except (TypeError, ValueError) as error:
        text = json.dumps({"status": "failed", "result": None,
                           "error": "the result is not serialisable: %s" % error})
    out = sys.__stdout__
    out.write("\n" + marker + text + "\n")
    out.flush()


def _load_class(path, pack_dir):
    from attune_st2.action import Action
    if not os.path.isfile(path):
        raise ImportError("entry point %s: no such file" % path)
    # As StackStorm: the action's folder and the pack's actions/lib importable
    for extra in (os.path.join(pack_dir, "actions", "lib") if pack_dir else None,
                  os.path.dirname(path)):
        if extra and extra not in sys.path:
            sys.path.insert(0, extra)
    name = "attune_action_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    found = [cls for _, cls in inspect.getmembers(module, inspect.isclass)
             if issubclass(cls, Action) and cls is not Action]
    own = [cls for cls in found if cls.__module__ == name]
    found = own or found
    if not found:
        raise ImportError("%s: no class derived from Action" % path)
    return found[0]


def _arguments(run, parameters):
    """The parameters run() takes: runner parameters (env, timeout,
    log_level) only when it names them or takes **kwargs."""
    try:
        signature = inspect.signature(run)
    except (TypeError, ValueError):
        return dict(parameters)
    named = set(signature.parameters)
    variadic = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
    return {k: v for k, v in parameters.items()
            if k not in RUNNER_PARAMETERS or k in named or variadic}


def _outcome(value):
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        return {"status": "succeeded" if value[0] else "failed", "result": value[1]}
    return {"status": "succeeded", "result": value}


def main():
    request = json.loads(sys.stdin.read() or "{}")
    marker = request.get("marker") or "%%attune-result%%"
    os.environ["ATTUNE_ACTION"] = request.get("action") or ""
    os.environ["ATTUNE_PACK"] = request.get("pack") or ""
    if request.get("log_level"):
        os.environ["ATTUNE_LOG_LEVEL"] = str(request["log_level"])
    try:
        cls = _load_class(request.get("entry_point") or "", request.get("pack_dir"))
        action = cls(config=request.get("config") or {})
        # A subclass whose __init__ did not call Action's still gets these
        if not hasattr(action, "config"):
            action.config = request.get("config") or {}
        if not hasattr(action, "logger") or not hasattr(action, "action_service"):
            from attune_st2.action import Action
            base = Action(config=action.config)
            action.logger = getattr(action, "logger", base.logger)
            action.action_service = getattr(action, "action_service",
                                            base.action_service)
        action.entry_point = request.get("entry_point")
    except BaseException as error:  # noqa: B902 - anything the module raises
        traceback.print_exc()
        _emit(marker, {"status": "failed", "result": None,
                       "error": "cannot load the action: %s: %s"
                       % (type(error).__name__, error)})
        return 2
    try:
        value = action.run(**_arguments(action.run, request.get("parameters") or {}))
    except BaseException as error:  # noqa: B902 - SystemExit included, as st2
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
