"""StackStorm's action contract for Python actions, as attune provides it.

    from st2common.runners.base_action import Action

    class Hello(Action):
        def run(self, name):
            self.logger.info("greeting %s", name)
            return True, {"greeting": "hello " + name}
"""
from attune_st2.action import Action  # noqa: F401

__all__ = ["Action"]
