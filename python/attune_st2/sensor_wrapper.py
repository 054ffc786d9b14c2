"""What the sensor actor runs for one StackStorm sensor
(actors/sensor/sensor_python.c).

stdin, one JSON object a line: first

    {"sensor": {"ref", "pack", "class_name", "entry_point", "pack_dir",
                "poll_interval", ...}, "config": {...}, "triggers": [instance]}

then {"op": "add" | "update" | "remove", "trigger": instance} as rules
change. The class named class_name (else the module's one Sensor subclass)
is made with a SensorService and the pack's config; setup(), add_trigger()
for each instance, then run() in the main thread while a thread reads the
rest of stdin. EOF on stdin or SIGTERM: cleanup(), exit 0. run() raising:
the traceback on stderr, exit 1 (the actor starts it again later). Log
lines go to stderr; the actor logs each with the sensor's name.
"""
import json
import logging
import os
import signal
import sys
import threading
import traceback

_stopping = threading.Lock()


def _load_class(path, class_name, pack_dir):
    import types
    from st2reactor.sensor.base import Sensor
    if not os.path.isfile(path):
        raise ImportError("entry point %s: no such file" % path)
    for extra in (os.path.join(pack_dir, "sensors", "lib") if pack_dir else None,
                  os.path.dirname(path)):
        if extra and extra not in sys.path:
            sys.path.insert(0, extra)
    name = "attune_sensor_" + os.path.splitext(os.path.basename(path))[0]
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    with open(path, "rb") as source:
        exec(compile(source.read(), path, "exec"), module.__dict__)
    short = (class_name or "").rpartition(".")[2]
    cls = module.__dict__.get(short)
    if isinstance(cls, type) and issubclass(cls, Sensor):
        return cls
    found = [c for c in module.__dict__.values() if isinstance(c, type)
             and issubclass(c, Sensor) and c.__module__ == name]
    if len(found) != 1:
        raise ImportError("%s: no sensor class %s" % (path, class_name))
    return found[0]


def _stop(sensor, code):
    if not _stopping.acquire(blocking=False):
        return
    try:
        if sensor is not None:
            sensor.cleanup()
    except BaseException:  # noqa: B902 - the process ends anyway
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _call(sensor, op, instance):
    method = {"add": sensor.add_trigger, "update": sensor.update_trigger,
              "remove": sensor.remove_trigger}.get(op)
    if method is None:
        return
    sensor.sensor_service._track(op, instance)
    try:
        method(instance)
    except Exception:  # noqa: B902 - one trigger's error does not stop the sensor
        traceback.print_exc()


def _read_commands(sensor):
    for line in sys.stdin:
        try:
            command = json.loads(line)
        except ValueError:
            continue
        if isinstance(command, dict) and isinstance(command.get("trigger"), dict):
            _call(sensor, command.get("op"), command["trigger"])
    _stop(sensor, 0)  # EOF: the actor stops us, or is gone


def main():
    from attune_st2.action import LOG_FORMAT
    from attune_st2.sensor_service import SensorService
    from st2reactor.sensor.base import PollingSensor
    logging.basicConfig(stream=sys.stderr, format=LOG_FORMAT,
                        level=os.environ.get("ATTUNE_LOG_LEVEL", "INFO").upper())
    request = json.loads(sys.stdin.readline() or "{}")
    definition = request.get("sensor") or {}
    ref = definition.get("ref") or os.environ.get("ATTUNE_SENSOR", "sensor")
    sensor = None
    signal.signal(signal.SIGTERM, lambda *_: _stop(sensor, 0))
    cls = _load_class(definition.get("entry_point") or "", definition.get("class_name"),
                      definition.get("pack_dir"))
    service = SensorService(ref, definition.get("pack"))
    kwargs = {"sensor_service": service, "config": request.get("config") or {}}
    if issubclass(cls, PollingSensor) and definition.get("poll_interval") is not None:
        kwargs["poll_interval"] = definition["poll_interval"]
    sensor = cls(**kwargs)
    sensor.setup()
    for instance in request.get("triggers") or []:
        _call(sensor, "add", instance)
    threading.Thread(target=_read_commands, args=(sensor,), daemon=True).start()
    try:
        sensor.run()
    except BaseException:  # noqa: B902 - SystemExit included
        traceback.print_exc()
        _stop(sensor, 1)
    threading.Event().wait()  # run() returned: keep the triggers until stopped


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path.insert(0, os.path.dirname(here))
    try:
        main()
    except BaseException:  # noqa: B902 - cannot load: say why, exit 2
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(2)
