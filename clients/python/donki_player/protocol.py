"""donki wire protocol, version 1, as docs/protocol.md specifies it (the player side).

Frame 0 of every message is a MessagePack map with ``v`` and ``type``; only ``data`` carries more frames: one raw
payload per row (little-endian, C order, exactly product(shape) x size(dtype) bytes).
"""

import re

import msgpack

PROTOCOL_VERSION = 1

#: dtype name -> (bytes per element, struct/array typecode used when numpy is absent)
DTYPES = {
    "uint8": (1, "B"),
    "uint16": (2, "H"),
    "uint32": (4, "I"),
    "int16": (2, "h"),
    "int32": (4, "i"),
    "float32": (4, "f"),
    "float64": (8, "d"),
}
ROLES = ("signal", "positioner", "monitor", "metadata")
NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
STREAM_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
AXIS_NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")


class ProtocolError(Exception):
    """A message from the Director that this side cannot accept (kind: 'malformed' or 'badVersion')."""

    def __init__(self, kind, message, version=None):
        super().__init__(message)
        self.kind = kind
        self.version = version


def encode(header):
    return msgpack.packb(header, use_bin_type=True)


def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _is_num(x):
    # a float field may arrive encoded as an integer (docs/protocol.md, Numbers)
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_str(x):
    return isinstance(x, str)


def _is_map(x):
    return isinstance(x, dict)


_FROM_DIRECTOR = {
    "trig": {"run": _is_str, "trig": _is_int, "lvl": _is_int, "seq": _is_int, "params": _is_map, "t": _is_num},
    "hb": {},
    "pre": {"run": _is_str, "seq": _is_int, "config": _is_map, "t": _is_num},
    "post": {"run": _is_str, "seq": _is_int, "status": _is_str},
    "abort": {"run": _is_str},
    "cancel": {"run": _is_str, "seq": _is_int},
    "welcome": {"name": _is_str, "session": _is_str, "hbInterval": _is_int, "hbTimeout": _is_int},
    "reject": {"reason": _is_str},
    "error": {"reason": _is_str},
    # the Director is going away for good (optional: an older peer treats it as unknown and times out instead)
    "shutdown": {},
}


def decode_from_director(frames):
    """Decode and check one message from the Director; raise ProtocolError with the reason."""
    if not frames or len(frames[0]) == 0:
        raise ProtocolError("malformed", "empty header frame")
    try:
        h = msgpack.unpackb(frames[0], raw=False)
    except Exception as e:  # noqa: BLE001 - any decoder failure is a malformed message
        raise ProtocolError("malformed", "header is not MessagePack: %s" % e) from None
    if not isinstance(h, dict):
        raise ProtocolError("malformed", "header is not a map")
    v = h.get("v")
    if not _is_num(v):
        raise ProtocolError("malformed", "header has no numeric 'v' (protocol version)")
    if v != PROTOCOL_VERSION:
        raise ProtocolError(
            "badVersion",
            "unsupported protocol version %s (this side speaks %d)" % (v, PROTOCOL_VERSION),
            version=v,
        )
    t = h.get("type")
    if not _is_str(t):
        raise ProtocolError("malformed", "header has no string 'type'")
    checks = _FROM_DIRECTOR.get(t)
    if checks is None:
        raise ProtocolError("malformed", "unknown message type '%s' from the Director" % t)
    for k, ok in checks.items():
        if not ok(h.get(k)):
            raise ProtocolError("malformed", "'%s' field '%s' is missing or has the wrong type" % (t, k))
    if len(frames) != 1:
        raise ProtocolError("malformed", "'%s' must be a single frame, got %d" % (t, len(frames)))
    return h


def check_stream(s):
    """Validate one StreamSpec dict; raise ValueError naming the problem."""
    name = s.get("name")
    if not isinstance(name, str) or not STREAM_NAME_RE.match(name):
        raise ValueError("stream name %r is not valid (letters, digits, _ . - only)" % (name,))
    if s.get("dtype") not in DTYPES:
        raise ValueError("stream '%s' has unknown dtype %r (one of %s)" % (name, s.get("dtype"), ", ".join(DTYPES)))
    shape = s.get("shape")
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        raise ValueError("stream '%s' has a bad shape %r (a list of integers >= 0; [] for a scalar)" % (name, shape))
    if s.get("role") not in ROLES:
        raise ValueError("stream '%s' has unknown role %r (one of %s)" % (name, s.get("role"), ", ".join(ROLES)))
    for k in ("units", "alias"):
        if k in s and not isinstance(s[k], str):
            raise ValueError("stream '%s' %s must be a string" % (name, k))
    a = s.get("axis")
    if a is not None:
        if (
            not isinstance(a, dict)
            or not isinstance(a.get("name"), str)
            or not AXIS_NAME_RE.match(a["name"])
            or not isinstance(a.get("units"), str)
            or not _is_num(a.get("offset"))
            or not _is_num(a.get("step"))
        ):
            raise ValueError("stream '%s' axis must be {name, units, offset, step}" % name)
        if not shape:
            raise ValueError("stream '%s' is a scalar: it cannot have an axis" % name)


def byte_size(dtype, shape):
    n = DTYPES[dtype][0]
    for d in shape:
        n *= d
    return n
