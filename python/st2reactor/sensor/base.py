"""StackStorm's sensor contract (st2reactor.sensor.base): subclass Sensor
(setup, run, cleanup, add_trigger, update_trigger, remove_trigger) or
PollingSensor (setup, poll every poll_interval seconds, cleanup ...).
self.sensor_service dispatches events and reaches the datastore
(attune_st2.sensor_service); self.config is the pack's config."""
import time


class Sensor:
    def __init__(self, sensor_service, config=None):
        self._sensor_service = sensor_service
        self._config = config if config is not None else {}

    @property
    def sensor_service(self):
        return self._sensor_service

    @property
    def config(self):
        return self._config

    def setup(self):
        """Run once before run()."""

    def run(self):
        """The sensor's work; a sensor that returns keeps its process until
        it is stopped."""
        raise NotImplementedError("%s does not define run()" % type(self).__name__)

    def cleanup(self):
        """Run once when the sensor stops."""

    def add_trigger(self, trigger):
        """A trigger instance {id, ref, uid, type, pack, name, parameters}."""

    def update_trigger(self, trigger):
        """A trigger instance changed."""

    def remove_trigger(self, trigger):
        """A trigger instance is no longer used by any enabled rule."""


class PollingSensor(Sensor):
    """poll() every poll_interval seconds (default 5, as StackStorm's)."""

    def __init__(self, sensor_service, config=None, poll_interval=5):
        super().__init__(sensor_service=sensor_service, config=config)
        self._poll_interval = poll_interval

    def run(self):
        while True:
            self.poll()
            time.sleep(self._poll_interval)

    def poll(self):
        raise NotImplementedError("%s does not define poll()" % type(self).__name__)

    def get_poll_interval(self):
        return self._poll_interval

    def set_poll_interval(self, poll_interval):
        self._poll_interval = poll_interval
