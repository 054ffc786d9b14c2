"""self.sensor_service of a StackStorm sensor: dispatch(trigger, payload,
trace_tag) publishes an event through attune's api (api.event.publish,
answered once the event is durable in the rules store, so a dispatch that
returned is never lost); get_logger(name); the datastore methods of
ActionService (get_value, set_value, delete_value, list_values), scoped to
the sensor's pack.

Every thread has its own connection to the api, so threads that dispatch
at the same time wait for their commits together: the rules actor stores
what arrives together in one commit (one sequential caller: one commit per
event, a few hundred a second; several threads: several times that)."""
import socket
import threading

import logging

from attune_st2.api import Api, ApiError
from attune_st2.datastore import ActionService


class SensorService(ActionService):
    def __init__(self, sensor_ref, pack, endpoint=None, identity=None):
        super().__init__(pack, logging.getLogger(sensor_ref), endpoint, identity)
        self.sensor_ref = sensor_ref
        self._lock = threading.Lock()  # add_trigger runs in its own thread
        self._instances = {}  # trigger instance ref -> instance
        self._local = threading.local()  # .api: this thread's connection

    def _call(self, op, **payload):
        if not self.endpoint:
            raise ApiError("unavailable", "no api: ATTUNE_API is not set")
        api = getattr(self._local, "api", None)
        if api is None:  # a socket is not shared between threads
            api = Api(self.endpoint)
            api.source = "python-sensor@" + (socket.gethostname() or "localhost")
            self._local.api = api
        if self.identity and not op.startswith("api.event."):
            payload.setdefault("identity", self.identity)
        return api.request(op, **payload)

    def _track(self, op, instance):
        with self._lock:
            if op == "remove":
                self._instances.pop(instance.get("ref"), None)
            else:
                self._instances[instance.get("ref")] = instance

    def get_logger(self, name):
        """A logger on stderr: the sensor actor logs its lines."""
        return logging.getLogger(name)

    def dispatch(self, trigger, payload=None, trace_tag=None):
        """Publish an event of `trigger` (a trigger type ref, the ref of a
        trigger instance given to add_trigger, or such an instance) with
        `payload`. Returns once attune has stored it; raises ApiError when
        it could not (unknown trigger type, api unreachable)."""
        parameters = {}
        with self._lock:
            instance = None if isinstance(trigger, dict) else self._instances.get(trigger)
        if isinstance(trigger, dict):
            parameters = trigger.get("parameters") or {}
            trigger = trigger.get("type") or trigger.get("ref")
        elif instance is not None:
            parameters = instance.get("parameters") or {}
            trigger = instance.get("type")
        request = {"trigger": trigger, "payload": payload if payload is not None else {}}
        if parameters:
            request["trigger_parameters"] = parameters
        return self._call("api.event.publish", **request)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        return self.dispatch(trigger, payload)
