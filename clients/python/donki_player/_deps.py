"""A clear error when the interpreter lacks a module donki_player needs (before any import fails obscurely)."""

import importlib.util
import sys

#: module -> (Debian package, pip package)
REQUIRED = {"zmq": ("python3-zmq", "pyzmq"), "msgpack": ("python3-msgpack", "msgpack")}


def missing():
    return [m for m in REQUIRED if importlib.util.find_spec(m) is None]


def check():
    gone = missing()
    if gone:
        raise ImportError(
            "donki_player needs the Python module%s %s, missing in %s (Python %s). Install with: apt install %s "
            "(or pip install %s), or run donki_player with an interpreter that has %s (DONKI_PYTHON=/usr/bin/python3)"
            % (
                "s" if len(gone) > 1 else "",
                ", ".join("'%s'" % m for m in gone),
                sys.executable,
                sys.version.split()[0],
                " ".join(REQUIRED[m][0] for m in gone),
                " ".join(REQUIRED[m][1] for m in gone),
                "them" if len(gone) > 1 else "it",
            ),
            name=gone[0],
        )
