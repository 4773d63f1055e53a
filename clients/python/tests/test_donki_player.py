"""Unit tests of donki_player's pieces that need no Director: payload encoding, message checks, script loading.
Run: PYTHONPATH=clients/python python3 -m unittest discover -s clients/python/tests (test/python-players.test.ts
runs them too)."""

import os
import struct
import tempfile
import textwrap
import threading
import time
import unittest

import msgpack

from donki_player import PlayerError, load_script, stream
from donki_player.data import to_payload
from donki_player.protocol import ProtocolError, check_stream, decode_from_director

try:
    import numpy as np
except ImportError:  # pragma: no cover
    np = None


def pack(**h):
    return msgpack.packb(h, use_bin_type=True)


class Payloads(unittest.TestCase):
    def test_scalars_and_lists_are_little_endian_of_the_declared_dtype(self):
        self.assertEqual(to_payload("p", stream("v", "float64"), 1.5), struct.pack("<d", 1.5))
        self.assertEqual(to_payload("p", stream("v", "int16"), -2), struct.pack("<h", -2))
        self.assertEqual(to_payload("p", stream("v", "uint16", [2, 2]), [[1, 2], [3, 4]]), struct.pack("<4H", 1, 2, 3, 4))
        self.assertEqual(to_payload("p", stream("v", "uint8", [3]), b"\x01\x02\x03"), b"\x01\x02\x03")

    def test_mismatches_name_player_stream_and_shapes(self):
        with self.assertRaisesRegex(ValueError, r"player 'p': stream 'v' expects uint16 \[2, 2\] \(8 bytes\), got a list of shape \[3\]"):
            to_payload("p", stream("v", "uint16", [2, 2]), [1, 2, 3])
        with self.assertRaisesRegex(ValueError, "got 3 raw bytes"):
            to_payload("p", stream("v", "uint16", [2]), b"abc")
        with self.assertRaisesRegex(ValueError, "does not fit uint8"):
            to_payload("p", stream("v", "uint8"), 300)
        with self.assertRaisesRegex(TypeError, "not a whole number"):
            to_payload("p", stream("v", "int32"), 1.5)
        with self.assertRaisesRegex(TypeError, "expects float64 \\[\\] .* got str"):
            to_payload("p", stream("v"), "1.0")

    @unittest.skipIf(np is None, "numpy not installed")
    def test_numpy_arrays_travel_raw_cast_only_within_their_kind(self):
        a = np.arange(6, dtype=np.uint16).reshape(2, 3)
        self.assertEqual(to_payload("p", stream("f", "uint16", [2, 3]), a), a.astype("<u2").tobytes())
        big = np.arange(6, dtype=">u2").reshape(2, 3)  # big-endian input is converted
        self.assertEqual(to_payload("p", stream("f", "uint16", [2, 3]), big), a.astype("<u2").tobytes())
        self.assertEqual(to_payload("p", stream("f", "float32", [2, 3]), a.astype(np.float64)), a.astype("<f4").tobytes())
        self.assertEqual(to_payload("p", stream("s", "float64"), np.float32(2.5)), struct.pack("<d", 2.5))
        with self.assertRaisesRegex(TypeError, "expects uint16 data, got a numpy float64 array"):
            to_payload("p", stream("f", "uint16", [2, 3]), a.astype(np.float64))
        with self.assertRaisesRegex(ValueError, r"got a numpy array of shape \[3, 2\]"):
            to_payload("p", stream("f", "uint16", [2, 3]), a.reshape(3, 2))


class Messages(unittest.TestCase):
    def test_a_float_field_may_arrive_as_an_integer(self):
        m = decode_from_director([pack(v=1, type="trig", run="r", trig=1, lvl=0, seq=3, params={"x": 10}, t=0)])
        self.assertEqual((m["trig"], m["t"], m["params"]), (1, 0, {"x": 10}))

    def test_checks_version_type_fields_and_frames(self):
        with self.assertRaises(ProtocolError) as e:
            decode_from_director([pack(v=2, type="welcome")])
        self.assertEqual((e.exception.kind, e.exception.version), ("badVersion", 2))
        self.assertIn("unsupported protocol version 2 (this side speaks 1)", str(e.exception))
        for frames, why in (
            ([b""], "empty header"),
            ([b"\xc1"], "not MessagePack"),
            ([pack(v=1, type="nope")], "unknown message type 'nope'"),
            ([pack(v=1, type="trig", run="r", trig=1.5, lvl=0, seq=1, params={}, t=0)], "'trig' field 'trig'"),
            ([pack(v=1, type="hb"), b"x"], "must be a single frame"),
        ):
            with self.assertRaisesRegex(ProtocolError, why):
                decode_from_director(frames)

    def test_stream_declarations(self):
        check_stream(stream("spectrum", "uint32", [2048], axis={"name": "energy", "units": "keV", "offset": 0, "step": 0.01}))
        for s, why in (
            (stream("bad name"), "not valid"),
            (stream("v", "int64"), "unknown dtype"),
            (stream("v", role="other"), "unknown role"),
            (stream("v", axis={"name": "e", "units": "keV", "offset": 0, "step": 1}), "scalar: it cannot have an axis"),
        ):
            with self.assertRaisesRegex(ValueError, why):
                check_stream(s)


class Scripts(unittest.TestCase):
    def write(self, text):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: (os.remove(os.path.join(d, "act.py")), os.rmdir(d)))
        p = os.path.join(d, "act.py")
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
        return p

    def test_the_original_style_get_data_names_and_stop(self):
        p = self.write(
            """
            calls = []
            def get_data_names():
                return ["i0", "it"]
            def action(trigger):
                return {"i0": trigger, "it": options["gain"] * trigger}
            def stop():
                calls.append("stop")
            """
        )
        b = load_script(p, {"gain": 2})
        self.assertEqual([s["name"] for s in b["streams"]], ["i0", "it"])
        self.assertEqual(b["action"](3), {"i0": 3, "it": 6})
        b["teardown"]("completed", None)

    def test_create_player_and_errors(self):
        p = self.write(
            """
            def create_player(options):
                return {"action": lambda t, p: None, "streams": [{"name": "v", "dtype": "float64", "shape": [], "role": "signal"}]}
            """
        )
        self.assertEqual(load_script(p, {})["streams"][0]["name"], "v")
        with self.assertRaisesRegex(PlayerError, "must define action"):
            load_script(self.write("x = 1\n"), {})
        with self.assertRaisesRegex(PlayerError, r"act.py:1: syntax error"):
            load_script(self.write("def action(:\n"), {})
        with self.assertRaisesRegex(PlayerError, "player script not found"):
            load_script("/nonexistent/act.py", {})


class CommandLine(unittest.TestCase):
    def test_a_z85_key_that_begins_with_a_dash_is_the_option_value(self):
        from donki_player.cli import _join_key_values, parser

        key = "-" + "a" * 39
        argv = ["--name", "p", "--level", "0", "--director", "tcp://h:1", "--script", "s.py", "--curve-server-key", key, "--curve-public-key", "--" + "b" * 38]
        a = parser().parse_args(_join_key_values(argv))
        self.assertEqual(a.curve_server_key, key)
        self.assertEqual(a.curve_public_key, "--" + "b" * 38)
        self.assertEqual(a.name, "p")


class ReleaseNext(unittest.TestCase):
    """release(next=True) against a Director played by this test (a ROUTER socket): the messages on the wire and
    which action may run when (docs/protocol.md "Overlap")."""

    def setUp(self):
        import zmq

        from donki_player import Player

        self.zmq = zmq
        self.zctx = zmq.Context()
        self.router = self.zctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.events = []  # (what, trigger) in the order the actions did it
        self.lock = threading.Lock()
        self.go = {t: threading.Event() for t in (1, 2, 3)}
        self.started = {t: threading.Event() for t in (1, 2, 3)}

        def action(trigger, params, ctx):
            self.note("start", trigger)
            self.started[trigger].set()
            ctx.push("v", float(trigger))
            if trigger < 3:
                ctx.release(next=True, phases={"exposure": 0.1})
                ctx.release(next=True)  # a second call does nothing
                self.note("released", trigger)
            if not self.go[trigger].wait(20):
                raise RuntimeError("test: trigger %d was never let go" % trigger)
            ctx.phases = {"readout": 0.02}
            self.note("end", trigger)
            return {"w": float(trigger) * 2}

        self.player = Player("cam", 2, "tcp://127.0.0.1:%d" % port, action, streams=[stream("v"), stream("w")], hb_interval_ms=200)
        self.addCleanup(self.cleanup)
        t = threading.Thread(target=self.player.start, daemon=True)
        t.start()
        ident, hello = self.recv()
        self.assertEqual(hello["type"], "hello")
        self.ident = ident
        self.send({"v": 1, "type": "welcome", "name": "cam", "session": "s", "hbInterval": 200, "hbTimeout": 5000})
        t.join(10)

    def cleanup(self):
        for e in self.go.values():
            e.set()
        self.player.close()
        self.router.close(0)
        self.zctx.term()

    def note(self, what, trigger):
        with self.lock:
            self.events.append((what, trigger))

    def send(self, h):
        self.router.send_multipart([self.ident, pack(**h)])

    def recv(self, timeout_s=10):
        if not self.router.poll(timeout_s * 1000):
            raise AssertionError("nothing from the player within %g s" % timeout_s)
        frames = self.router.recv_multipart()
        return frames[0], msgpack.unpackb(frames[1], raw=False)

    def replies(self, until, timeout_s=10):
        """The player's messages other than hb, until one for which until(m) is true."""
        out = []
        end = time.monotonic() + timeout_s
        while True:
            _, m = self.recv(max(0.01, end - time.monotonic()))
            if m["type"] == "hb":
                continue
            out.append(m)
            if until(m):
                return out

    def test_the_next_action_runs_during_the_read_out_and_a_third_waits_for_the_oldest(self):
        for t in (1, 2, 3):
            self.send({"v": 1, "type": "trig", "run": "r", "trig": t, "lvl": 2, "seq": 10 + t, "params": {}, "t": 0})
        # trigger 1 released with next: trigger 2's action starts while trigger 1 is still in its read-out
        self.assertTrue(self.started[2].wait(10))
        got = self.replies(lambda m: m["type"] == "ack" and m["trig"] == 2)
        self.assertEqual([(m["type"], m["trig"]) for m in got], [("data", 1), ("ack", 1), ("data", 2), ("ack", 2)])
        self.assertTrue(got[1]["pending"])
        self.assertEqual(got[1]["phases"], {"exposure": 0.1})
        # at most one in the background: trigger 3 waits until trigger 1 has returned (2 released with next too)
        self.assertFalse(self.started[3].wait(0.3))
        self.go[1].set()
        got = self.replies(lambda m: m["type"] == "complete" and m["trig"] == 1)
        self.assertEqual([(m["type"], m["trig"]) for m in got], [("data", 1), ("complete", 1)])
        self.assertEqual(got[0]["rows"][0]["stream"], "w")
        self.assertEqual((got[1]["ok"], got[1]["seq"], got[1]["phases"]), (True, 11, {"readout": 0.02}))
        self.assertTrue(self.started[3].wait(10))
        self.go[3].set()
        got = self.replies(lambda m: m["type"] == "ack" and m["trig"] == 3)
        # trigger 3 did not release: a plain ack (its rows first); trigger 2 is still reading out
        self.assertEqual([(m["type"], m["trig"]) for m in got], [("data", 3), ("ack", 3)])
        self.assertNotIn("pending", got[1])
        self.go[2].set()
        got = self.replies(lambda m: m["type"] == "complete" and m["trig"] == 2)
        self.assertEqual([(m["type"], m["trig"]) for m in got], [("data", 2), ("complete", 2)])
        with self.lock:
            ev = list(self.events)
        self.assertLess(ev.index(("start", 2)), ev.index(("end", 1)))
        self.assertLess(ev.index(("end", 1)), ev.index(("start", 3)))
        self.assertEqual(self.player.counters["detached"], 2)

    def test_abort_reaches_the_action_in_the_background(self):
        aborted = threading.Event()
        orig = self.player._action

        def action(trigger, params, ctx):
            if trigger == 1:
                ctx.release(next=True)
                while not ctx.aborted:
                    time.sleep(0.01)
                aborted.set()
                return None
            return orig(trigger, params, ctx)

        self.player._action = action
        self.send({"v": 1, "type": "trig", "run": "r", "trig": 1, "lvl": 2, "seq": 11, "params": {}, "t": 0})
        self.send({"v": 1, "type": "trig", "run": "r", "trig": 2, "lvl": 2, "seq": 12, "params": {}, "t": 0})
        self.assertTrue(self.started[2].wait(10))
        self.send({"v": 1, "type": "abort", "run": "r", "reason": "operator"})
        self.assertTrue(aborted.wait(10))


if __name__ == "__main__":
    unittest.main()
