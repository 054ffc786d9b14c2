"""StackStorm's st2reactor package as attune provides it: the sensor base
classes (st2reactor.sensor.base), run by attune's sensor actor through
attune_st2/sensor_wrapper.py."""
