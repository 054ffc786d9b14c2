"""self.action_service: StackStorm's datastore methods for actions, through
attune's api (api.key.*). The endpoint is $ATTUNE_API (the worker sets it).

As in StackStorm, `local=True` (the default) prefixes the name with the
pack's name and a colon, so packs do not see each other's keys; scope is
'system' or 'user' (st2kv.system / st2kv.user accepted too)."""
import json
import os

from attune_st2.api import Api, ApiError

SCOPES = ("system", "user", "st2kv.system", "st2kv.user")


class KeyValuePair:
    """What list_values returns: name, value, scope, secret, expire_at."""

    def __init__(self, item):
        self.name = item.get("name")
        self.value = item.get("value")
        self.scope = item.get("scope")
        self.secret = bool(item.get("secret"))
        self.expire_at = item.get("expire_at")
        self.ttl = item.get("ttl")

    def __repr__(self):
        return "KeyValuePair(name=%r, scope=%r)" % (self.name, self.scope)


class ActionService:
    def __init__(self, pack, logger=None, endpoint=None, identity=None):
        self.pack = pack or ""
        self.logger = logger
        self.endpoint = endpoint or os.environ.get("ATTUNE_API", "")
        self.identity = identity or os.environ.get("ATTUNE_IDENTITY")
        self._api = None

    # -- helpers -----------------------------------------------------------
    def _call(self, op, **payload):
        if not self.endpoint:
            raise ApiError("unavailable", "no datastore: ATTUNE_API is not set")
        if self._api is None:
            self._api = Api(self.endpoint)
        if self.identity:
            payload.setdefault("identity", self.identity)
        return self._api.request(op, **payload)

    def _name(self, name, local):
        if not isinstance(name, str) or not name:
            raise ValueError("a key name is a non-empty string")
        return "%s:%s" % (self.pack, name) if local else name

    @staticmethod
    def _scope(scope):
        if scope not in SCOPES:
            raise ValueError("scope must be 'system' or 'user', not %r" % (scope,))
        return scope.replace("st2kv.", "")

    # -- StackStorm's methods ----------------------------------------------
    def get_value(self, name, local=True, scope="system", decrypt=False):
        """The value (a string), or None when the key does not exist."""
        try:
            item = self._call("api.key.get", name=self._name(name, local),
                              scope=self._scope(scope), decrypt=bool(decrypt))
        except ApiError as error:
            if error.code == "not_found":
                return None
            raise
        return item.get("value") if isinstance(item, dict) else None

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        """Store `value` (a non-string is stored as its JSON). True."""
        if not isinstance(value, str):
            value = json.dumps(value)
        payload = {"name": self._name(name, local), "value": value,
                   "scope": self._scope(scope), "secret": bool(encrypt)}
        if ttl:
            payload["ttl"] = int(ttl)
        self._call("api.key.set", **payload)
        return True

    def delete_value(self, name, local=True, scope="system"):
        """True when a key was deleted, False when there was none."""
        try:
            self._call("api.key.delete", name=self._name(name, local),
                       scope=self._scope(scope))
        except ApiError as error:
            if error.code == "not_found":
                return False
            raise
        return True

    def list_values(self, local=True, prefix=None, scope="system", decrypt=False,
                    limit=None, offset=0):
        """KeyValuePair objects whose name starts with `prefix` (within the
        pack's namespace when local), in name order."""
        full = (self.pack + ":" if local else "") + (prefix or "")
        items, after = [], None
        while True:
            payload = {"prefix": full, "scope": self._scope(scope),
                       "decrypt": bool(decrypt), "limit": 1000}
            if after:
                payload["after"] = after
            page = self._call("api.key.list", **payload) or {}
            items.extend(page.get("items") or [])
            after = page.get("next")
            if not after:
                break
        pairs = [KeyValuePair(item) for item in items]
        return pairs[offset:offset + limit] if limit else pairs[offset:]
