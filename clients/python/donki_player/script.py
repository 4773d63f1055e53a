"""Loading a user's action script, in the original DonkiOrchestra's style or donki's.

A script is a Python file that defines, at module level:
  action(trigger, params[, ctx])   required: act on one trigger; return None or {stream: value}
  streams = [...]                  the streams it pushes (dicts or donki_player.stream(...)), or
  get_data_names()                 the original's form: names of float64 scalar streams
  setup(config[, ctx])             optional: pre-operation (planning phase)
  teardown(status[, ctx])          optional: post-operation (closeout); the original's stop() works too
  close()                          optional: release the device when the player stops
  device = {"kind", "model", "simulated"}   optional: what the player drives
or a factory create_player(options) returning a dict (or an object) with those names.
The player's options (-o key=value, the scenario's settings) are in the module global `options` before the script
runs.
"""

import importlib.util
import os
import sys

from .player import PlayerError, stream

_NAMES = ("action", "streams", "setup", "teardown", "close", "device")


def _get(obj, k):
    if isinstance(obj, dict):
        return obj.get(k)
    return getattr(obj, k, None)


def behaviour_from(obj, origin):
    """Normalise a module, dict or object into the keyword arguments of Player()."""
    action = _get(obj, "action")
    if not callable(action):
        raise PlayerError("%s: a player script must define action(trigger, params) or create_player(options)" % origin)
    streams = _get(obj, "streams")
    if streams is None and callable(_get(obj, "get_data_names")):
        streams = [stream(n) for n in _get(obj, "get_data_names")()]
    teardown = _get(obj, "teardown")
    if teardown is None and callable(_get(obj, "stop")):
        stop_fn = _get(obj, "stop")
        teardown = lambda status, ctx=None: stop_fn()  # noqa: E731 - the original's stop() takes no arguments
    out = {"action": action, "streams": list(streams or []), "setup": _get(obj, "setup"), "teardown": teardown, "close": _get(obj, "close")}
    if _get(obj, "device") is not None:
        out["device"] = _get(obj, "device")
    return out


def load_script(path, options):
    """Run the script file and return the keyword arguments of Player() it defines."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise PlayerError("player script not found: %s" % path)
    mod_name = "donki_action_%s" % os.path.splitext(os.path.basename(path))[0].replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise PlayerError("%s: not a Python file" % path)
    module = importlib.util.module_from_spec(spec)
    module.options = dict(options)
    # the script may import helpers that sit beside it
    sys.path.insert(0, os.path.dirname(path))
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise PlayerError("%s:%s: syntax error: %s" % (path, e.lineno, e.msg)) from None
    except ImportError as e:
        raise PlayerError("%s: %s: %s" % (path, type(e).__name__, e)) from None
    factory = getattr(module, "create_player", None)
    if callable(factory):
        obj = factory(dict(options))
        if obj is None:
            raise PlayerError("%s: create_player(options) returned nothing" % path)
        return behaviour_from(obj, path)
    return behaviour_from(module, path)
