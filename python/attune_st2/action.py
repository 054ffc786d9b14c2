"""The base class of StackStorm Python actions (st2common.runners.base_action
.Action): constructed with the pack's config; self.config, self.logger (a
logging.Logger on stderr), self.action_service (the datastore)."""
import logging
import os
import sys

from attune_st2.datastore import ActionService

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s [-] %(message)s"


def make_logger(ref, level=None):
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
        ref = os.environ.get("ATTUNE_ACTION", "")
        self.logger = make_logger(ref, os.environ.get("ATTUNE_LOG_LEVEL"))
        pack = os.environ.get("ATTUNE_PACK") or ref.partition(".")[0]
        self.action_service = action_service or ActionService(pack, self.logger)
        self.entry_point = None

    def run(self, **kwargs):
        raise NotImplementedError("%s does not define run()" % type(self).__name__)
