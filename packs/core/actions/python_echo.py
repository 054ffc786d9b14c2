"""core.python_echo: a StackStorm Python action (attune runs it through
python/attune_st2/wrapper.py): run() gets the parameters, its return value
is the execution's result."""
from st2common.runners.base_action import Action


class PythonEcho(Action):
    def run(self, message, count=1):
        count = int(count)
        self.logger.debug("echoing %d time(s)", count)
        return {"message": message, "repeated": [message] * count,
                "length": len(message)}
