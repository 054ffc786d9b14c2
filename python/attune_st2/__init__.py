"""attune_st2: StackStorm's Python action contract over attune's protocol.

action.Action      the base class packs subclass (st2common.runners.base_action)
datastore          ActionService: get/set/delete/list values through the api
api                one request to attune's api (pyzmq + msgpack, PROTOCOL.md)
wrapper            what the worker runs for a python-script action
"""
