"""The base class of StackStorm Python actions (st2common.runners.base_action
.Action): constructed with the pack's config; self.config, self.logger (a
logging.Logger on stderr), self.action_service (the datastore).

The logger and the action service are made on first use, so an action that
needs neither does not pay for importing logging, socket or pyzmq: that is
most of a short action's run time."""
import os
import sys

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s [-] %(message)s"


def make_logger(ref, level=None):
    import logging
    logger = logging.getLogger("actions.python." + (ref or "action"))
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
    logger.setLevel(getattr(logging, str(level or "debug").upper(), logging.DEBUG))
    logger.propagate = False
    return logger


class Action:
    """Subclass it and define run(**parameters)."""

    def __init__(self, config=None, action_service=None):
        self.config = config if config is not None else {}
        if action_service is not None:
            self.action_service = action_service
        self.entry_point = None

    @property
    def logger(self):
        logger = self.__dict__.get("_logger")
        if logger is None:
            logger = make_logger(os.environ.get("ATTUNE_ACTION", ""),
                                 os.environ.get("ATTUNE_LOG_LEVEL"))
            self.__dict__["_logger"] = logger
        return logger

    @logger.setter
    def logger(self, value):
        self.__dict__["_logger"] = value

    @property
    def action_service(self):
        service = self.__dict__.get("_action_service")
        if service is None:
            from attune_st2.datastore import ActionService
            ref = os.environ.get("ATTUNE_ACTION", "")
            pack = os.environ.get("ATTUNE_PACK") or ref.partition(".")[0]
            service = ActionService(pack, self.logger)
            self.__dict__["_action_service"] = service
        return service

    @action_service.setter
    def action_service(self, value):
        self.__dict__["_action_service"] = value

    def run(self, **kwargs):
        raise NotImplementedError("%s does not define run()" % type(self).__name__)
