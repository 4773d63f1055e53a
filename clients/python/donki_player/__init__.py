"""donki_player: donki Players in Python, on the wire protocol of docs/protocol.md (pyzmq + msgpack, numpy optional).

    from donki_player import Player, stream

    def action(trigger, params, ctx):
        return {"counts": read_counter(params.get("dwell", 0.1))}

    p = Player("counter", level=2, director="tcp://127.0.0.1:5570", action=action,
               streams=[stream("counts", "float64", [], units="counts")])
    p.start()   # registers (raises PlayerError if rejected or no Director answers)
    p.wait()    # serves triggers until stopped; p.stop() leaves cleanly
"""

from ._deps import check as _check_deps

_check_deps()

from .player import ActionContext, Aborted, Player, PlayerError, PlayerRejected, stream
from .protocol import PROTOCOL_VERSION, ProtocolError
from .script import load_script

__all__ = [
    "PROTOCOL_VERSION",
    "Aborted",
    "ActionContext",
    "Player",
    "PlayerError",
    "PlayerRejected",
    "ProtocolError",
    "load_script",
    "stream",
]
