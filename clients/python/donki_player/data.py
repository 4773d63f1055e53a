"""Turning a Python value into the raw payload of one row of a declared stream (little-endian, C order)."""

import struct

from .protocol import DTYPES, byte_size

try:  # numpy is optional: without it, rows are Python numbers, lists or raw bytes
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the host
    _np = None


def _count(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _flatten(v, out):
    if isinstance(v, (list, tuple)):
        for x in v:
            _flatten(x, out)
    else:
        out.append(v)
    return out


def _shape_of(v):
    shape = []
    while isinstance(v, (list, tuple)):
        shape.append(len(v))
        if not v:
            break
        v = v[0]
    return shape


def to_payload(player, decl, value):
    """Bytes of one row of stream `decl` (a StreamSpec dict) from `value`; ValueError/TypeError naming the problem.

    Accepted values: a number (scalar streams), a (nested) list or tuple, a numpy array (converted when the cast
    keeps the kind, e.g. int64 -> int32, float64 -> float32; refused otherwise, e.g. float -> uint16), or raw
    bytes / bytearray / memoryview of exactly the declared size.
    """
    name, dtype, shape = decl["name"], decl["dtype"], decl["shape"]
    want = byte_size(dtype, shape)
    what = "%s %s (%d bytes)" % (dtype, list(shape), want)
    where = "player '%s': stream '%s'" % (player, name)
    if isinstance(value, (bytes, bytearray, memoryview)):
        b = bytes(value)
        if len(b) != want:
            raise ValueError("%s expects %s, got %d raw bytes" % (where, what, len(b)))
        return b
    if _np is not None and isinstance(value, (_np.ndarray, _np.generic)):
        arr = _np.asarray(value)
        target = _np.dtype(dtype).newbyteorder("<")
        if arr.dtype != target:
            if not _np.can_cast(arr.dtype, target, casting="same_kind"):
                raise TypeError("%s expects %s data, got a numpy %s array (convert it explicitly)" % (where, dtype, arr.dtype))
            arr = arr.astype(target)
        if list(arr.shape) != list(shape):
            raise ValueError("%s expects %s, got a numpy array of shape %s" % (where, what, list(arr.shape)))
        return _np.ascontiguousarray(arr).tobytes()
    if isinstance(value, bool) or not isinstance(value, (int, float, list, tuple)):
        raise TypeError("%s expects %s, got %s" % (where, what, type(value).__name__))
    if isinstance(value, (int, float)):
        if shape:
            raise ValueError("%s expects %s, got a single number" % (where, what))
        flat = [value]
    else:
        if _shape_of(value) != list(shape):
            raise ValueError("%s expects %s, got a list of shape %s" % (where, what, _shape_of(value)))
        flat = _flatten(value, [])
    if len(flat) != _count(shape):
        raise ValueError("%s expects %s, got %d values" % (where, what, len(flat)))
    code = DTYPES[dtype][1]
    if code not in "fd":
        for x in flat:
            if isinstance(x, float) and not x.is_integer():
                raise TypeError("%s is %s: %r is not a whole number" % (where, dtype, x))
        flat = [int(x) for x in flat]
    try:
        return struct.pack("<%d%s" % (len(flat), code), *flat)
    except struct.error as e:
        raise ValueError("%s: a value does not fit %s (%s)" % (where, dtype, e)) from None
