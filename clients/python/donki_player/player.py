"""A donki Player in Python: registers with a Director, runs setup on `pre`, acts on every trigger of its level,
pushes trigger-tagged rows, runs teardown on `post`, heartbeats, and leaves cleanly. Wire: docs/protocol.md.

Threads: one I/O thread owns the ZeroMQ DEALER socket (receiving, heartbeats, re-registration); one worker thread
runs the user's code (setup, actions, teardown) one request at a time, in arrival order, and hands the messages it
produces to the I/O thread over an inproc PUSH/PULL pair. A long action therefore never delays a heartbeat.
"""

import collections
import inspect
import logging
import os
import socket
import threading
import time
import traceback

import zmq

from . import protocol
from .data import to_payload
from .protocol import PROTOCOL_VERSION, ProtocolError, encode

log = logging.getLogger("donki_player")

#: A data message is sent as soon as its rows reach this size (frames of a long action stream out).
BATCH_BYTES = 4 * 1024 * 1024


class PlayerError(Exception):
    """The player cannot go on: rejected, no Director, protocol version, bad declaration."""


class PlayerRejected(PlayerError):
    pass


class Aborted(Exception):
    """Raised by ActionContext.check()/sleep() when the Director aborted the run or cancelled the request."""


def stream(name, dtype="float64", shape=(), units=None, role="signal", alias=None, axis=None):
    """A StreamSpec (docs/protocol.md): one row per trigger of `dtype` and `shape` ([] scalar, [n], [h, w])."""
    s = {"name": name, "dtype": dtype, "shape": [int(d) for d in shape], "role": role}
    if units is not None:
        s["units"] = units
    if alias is not None:
        s["alias"] = alias
    if axis is not None:
        s["axis"] = dict(axis)
    return s


def _positional_arity(fn):
    """How many positional arguments fn takes (None = any number)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    n = 0
    for p in sig.parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            n += 1
    return n


def _call(fn, *args):
    """Call fn with as many of args as it accepts (action(trigger), action(trigger, params), action(t, p, ctx))."""
    n = _positional_arity(fn)
    return fn(*(args if n is None else args[:n]))


def describe(e):
    msg = str(e)
    name = type(e).__name__
    if not msg:
        return name
    if isinstance(e, (PlayerError, Aborted)) or type(e) is Exception:
        return msg
    return "%s: %s" % (name, msg)


class _Batch:
    __slots__ = ("run", "trig", "rows", "payloads", "size")

    def __init__(self, run, trig):
        self.run, self.trig = run, trig
        self.rows, self.payloads, self.size = [], [], 0


class ActionContext:
    """What an action sees besides (trigger, params): push rows, report dt, notice aborts."""

    def __init__(self, player, run, trig, level, seq, t, params, batch):
        self._player = player
        self.run = run
        self.trigger = trig
        self.level = level
        self.seq = seq
        #: simulated time at the start of this level (virtual-time simulations follow it)
        self.t = t
        self.params = params
        self.options = player.options
        self.time_mode = player.time_mode
        self.seed = player.seed
        #: simulated seconds this action took (virtual time); leave None on hardware
        self.dt = None
        self._batch = batch
        self._stop = threading.Event()
        self._why = None

    # ---- data
    def push(self, stream_name, value):
        """One row of a declared stream for this trigger (sent with the ack, or at once past 4 MB)."""
        self._player._add_row(self._batch, stream_name, value)

    def push_at(self, trig, stream_name, value):
        """A row for another (earlier) trigger of this run, sent at once: late data."""
        self._player.push_data(self.run, trig, stream_name, value)

    # ---- aborts: Python cannot interrupt a running function, so long actions look here
    @property
    def aborted(self):
        return self._stop.is_set()

    def check(self):
        """Raise Aborted if the Director aborted the run or cancelled this trigger."""
        if self._stop.is_set():
            raise Aborted(self._why or "aborted")

    def sleep(self, seconds):
        """Sleep, but raise Aborted at once if the run is aborted or the trigger cancelled."""
        if self._stop.wait(max(0.0, seconds)):
            raise Aborted(self._why or "aborted")

    def _abort(self, why):
        self._why = why
        self._stop.set()


class Player:
    """A player process's connection to a Director.

    action(trigger, params[, ctx]) -> None or {stream: value}. setup(config[, ctx]) on `pre`, teardown(status[, ctx])
    on `post`, close() when the player stops. `streams`: StreamSpec dicts (see `stream()`).
    """

    def __init__(
        self,
        name,
        level,
        director,
        action,
        streams=(),
        setup=None,
        teardown=None,
        close=None,
        device=None,
        join="next-trigger",
        hb_interval_ms=500,
        hb_timeout_ms=3000,
        curve=None,
        register_timeout_s=10.0,
        options=None,
        time_mode="real",
        seed=1,
    ):
        if not isinstance(name, str) or not protocol.NAME_RE.match(name):
            raise PlayerError("player name %r is not valid (1-64 of letters, digits, _ . -)" % (name,))
        if not isinstance(level, int) or level < -1:
            raise PlayerError("player '%s': level %r is not valid (-1 disables, 0.. are levels)" % (name, level))
        if join not in ("next-trigger", "next-run"):
            raise PlayerError("player '%s': join must be next-trigger or next-run, got %r" % (name, join))
        if not callable(action):
            raise PlayerError("player '%s': action must be a function action(trigger, params[, ctx])" % name)
        self.name = name
        self.level = level
        self.director = director
        self.action = action
        self.setup = setup
        self.teardown = teardown
        self.close_device = close
        self.streams = [dict(s) for s in streams]
        names = set()
        for s in self.streams:
            try:
                protocol.check_stream(s)
            except ValueError as e:
                raise PlayerError("player '%s': %s" % (name, e)) from None
            if s["name"] in names:
                raise PlayerError("player '%s': stream '%s' declared twice" % (name, s["name"]))
            names.add(s["name"])
        self._stream_map = {s["name"]: s for s in self.streams}
        self.device = dict(device or {"kind": "python", "model": "python action", "simulated": False})
        self.join = join
        self.hb_interval = hb_interval_ms / 1000.0
        self.hb_timeout = hb_timeout_ms / 1000.0
        self.curve = curve
        self.register_timeout = register_timeout_s
        self.options = dict(options or {})
        self.time_mode = time_mode
        self.seed = seed
        self.instance = os.urandom(6).hex()
        self.counters = {"malformed": 0, "actions": 0, "errors": 0, "directorErrors": 0, "badVersion": 0}
        self.last_director_error = None
        self.session = None

        self._ctx = zmq.Context()
        self._pipe = "inproc://donki-player-%s-%s" % (name, self.instance)
        self._jobs = collections.deque()
        self._cv = threading.Condition()
        self._busy = False
        self._current = None  # (seq, ActionContext) of the trigger being acted on
        self._aborted_runs = set()
        self._stopping = False
        self._closed = threading.Event()
        self._welcome = threading.Event()
        self._registered = False
        self._fatal = None
        self._io = None
        self._worker = None
        self._local = threading.local()

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        """Connect and register; returns on `welcome`, raises PlayerError on `reject` or after the deadline."""
        pull = self._ctx.socket(zmq.PULL)
        pull.bind(self._pipe)
        dealer = self._ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 1000)
        if self.curve:
            dealer.curve_serverkey = self.curve["serverKey"].encode()
            dealer.curve_publickey = self.curve["publicKey"].encode()
            dealer.curve_secretkey = self.curve["secretKey"].encode()
        dealer.connect(self.director)
        self._io = threading.Thread(target=self._io_loop, args=(dealer, pull), name="donki-io", daemon=True)
        self._worker = threading.Thread(target=self._work_loop, name="donki-worker", daemon=True)
        self._io.start()
        self._worker.start()
        if not self._welcome.wait(self.register_timeout) or self._fatal is not None:
            err = self._fatal
            if err is None:
                hint = (
                    " (with CURVE an unauthorised key or a wrong server key gets no answer at all)" if self.curve else ""
                )
                err = PlayerError(
                    "player '%s': no answer from the Director at %s within %g s%s"
                    % (self.name, self.director, self.register_timeout, hint)
                )
            self.close()
            raise err
        log.info("player %s registered with %s (session %s)", self.name, self.director, self.session)

    def wait(self, timeout=None):
        """Block until the player is closed (stop(), close() or a fatal error). Returns the fatal error or None."""
        self._closed.wait(timeout)
        return self._fatal

    @property
    def closed(self):
        return self._closed.is_set()

    @property
    def registered(self):
        return self._registered

    def stop(self, reason="player stopped", timeout=30.0):
        """Clean leave: finish the current request, send `bye`, close."""
        if self._closed.is_set():
            return
        with self._cv:
            self._stopping = True
            # triggers still queued are not started; pre/post are
            self._jobs = collections.deque(j for j in self._jobs if j["type"] != "trig")
            end = time.monotonic() + timeout
            while (self._busy or self._jobs) and time.monotonic() < end:
                self._cv.wait(end - time.monotonic())
        self._send_ctl(b"B", [encode({"v": PROTOCOL_VERSION, "type": "bye", "reason": reason})])
        self._closed.wait(2.0)
        self.close()

    def close(self):
        """Close without `bye` (the Director notices through the heartbeat timeout)."""
        if not self._closed.is_set():
            try:
                self._send_ctl(b"Q", [])  # wake the I/O thread
            except zmq.ZMQError:
                pass
            self._closed.set()
        cur = self._current
        if cur:
            cur[1]._abort("player closing")
        with self._cv:
            self._cv.notify_all()
        for t in (self._io, self._worker):
            if t is not None and t is not threading.current_thread():
                t.join(3.0)
        if self.close_device:
            try:
                self.close_device()
            except Exception as e:  # noqa: BLE001
                log.warning("device close failed: %s", describe(e))
            self.close_device = None
        if not self._ctx.closed:
            self._ctx.destroy(linger=0)

    # ------------------------------------------------------------------ I/O thread

    def _hello(self):
        return encode(
            {
                "v": PROTOCOL_VERSION,
                "type": "hello",
                "name": self.name,
                "level": self.level,
                "streams": self.streams,
                "device": self.device,
                "instance": self.instance,
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "join": self.join,
            }
        )

    def _io_loop(self, dealer, pull):
        poller = zmq.Poller()
        poller.register(dealer, zmq.POLLIN)
        poller.register(pull, zmq.POLLIN)
        hb = encode({"v": PROTOCOL_VERSION, "type": "hb"})
        now = time.monotonic()
        last_heard = now
        last_hello = now
        dealer.send(self._hello())
        next_tick = now + self.hb_interval
        try:
            while not self._closed.is_set():
                timeout = max(0.0, next_tick - time.monotonic())
                events = dict(poller.poll(timeout * 1000.0))
                if pull in events:
                    while True:
                        try:
                            frames = pull.recv_multipart(zmq.NOBLOCK, copy=True)
                        except zmq.Again:
                            break
                        kind = frames[0]
                        if kind == b"Q":
                            return
                        dealer.send_multipart(frames[1:], copy=False)
                        if kind == b"B":
                            return
                if dealer in events:
                    while True:
                        try:
                            frames = dealer.recv_multipart(zmq.NOBLOCK)
                        except zmq.Again:
                            break
                        heard = self._on_message(frames)
                        if heard:
                            last_heard = time.monotonic()
                        if heard == "rehello" and time.monotonic() - last_hello >= self.hb_interval:
                            last_hello = time.monotonic()
                            dealer.send(self._hello())
                        if self._fatal is not None:
                            self._welcome.set()
                            return
                now = time.monotonic()
                if now >= next_tick:
                    next_tick = now + self.hb_interval
                    if not self._registered:
                        # no hb before welcome: hello again every interval (docs/protocol.md, Before `welcome`)
                        last_hello = now
                        dealer.send(self._hello())
                    elif now - last_heard > self.hb_timeout:
                        log.warning("the Director at %s is silent: registering again", self.director)
                        self._registered = False
                        last_hello = now
                        dealer.send(self._hello())
                    else:
                        dealer.send(hb)
        except zmq.ZMQError as e:
            if not self._closed.is_set():
                self._fatal = PlayerError("player '%s': socket failure: %s" % (self.name, e))
                self._welcome.set()
        finally:
            dealer.close(linger=1000 if not self._fatal else 0)
            pull.close(linger=0)
            self._closed.set()
            cur = self._current
            if cur:
                cur[1]._abort("player closing")
            with self._cv:
                self._cv.notify_all()

    def _on_message(self, frames):
        """Handle one Director message. Returns truthy when it counts as a sign of life ('rehello' to register)."""
        try:
            m = protocol.decode_from_director(frames)
        except ProtocolError as e:
            if e.kind == "badVersion":
                self.counters["badVersion"] += 1
                if not self._welcome.is_set():
                    self._fatal = PlayerError(
                        "player '%s': the Director at %s speaks protocol version %s; this donki_player speaks version %d"
                        % (self.name, self.director, e.version, PROTOCOL_VERSION)
                    )
                    return False
            self.counters["malformed"] += 1
            log.warning("rejected a message from the Director: %s", e)
            return False
        t = m["type"]
        if t == "welcome":
            self._registered = True
            self.session = m["session"]
            self.hb_timeout = m["hbTimeout"] / 1000.0
            self._welcome.set()
        elif t == "reject":
            self._fatal = PlayerRejected("player '%s' rejected by the Director: %s" % (self.name, m["reason"]))
            log.error("%s", self._fatal)
        elif t == "error":
            if m.get("code") == "unknown-peer":
                if self._registered:
                    log.warning("the Director does not know this player (restarted?): registering again")
                self._registered = False
                return "rehello"
            self.counters["directorErrors"] += 1
            self.last_director_error = m["reason"]
            if not self._welcome.is_set():
                self._fatal = PlayerError("player '%s': the Director refused its registration: %s" % (self.name, m["reason"]))
            else:
                log.warning("the Director rejected a message: %s", m["reason"])
        elif t == "abort":
            run = m["run"]
            with self._cv:
                self._aborted_runs.add(run)
                self._jobs = collections.deque(j for j in self._jobs if not (j["type"] == "trig" and j["run"] == run))
            cur = self._current
            if cur and cur[1].run == run:
                cur[1]._abort("run aborted by the Director")
        elif t == "cancel":
            seq = m["seq"]
            with self._cv:
                self._jobs = collections.deque(j for j in self._jobs if not (j["type"] == "trig" and j["seq"] == seq))
            cur = self._current
            if cur and cur[0] == seq:
                cur[1]._abort("trigger cancelled by the Director (no ack within its deadline)")
        elif t in ("pre", "trig", "post"):
            with self._cv:
                if t == "pre":
                    self._aborted_runs.discard(m["run"])
                if t == "trig" and self._stopping:
                    return True
                self._jobs.append(m)
                self._cv.notify()
        return True

    # ------------------------------------------------------------------ worker thread

    def _send_ctl(self, kind, frames):
        """Hand frames to the I/O thread (any thread; one PUSH socket per thread)."""
        if self._closed.is_set():
            return
        push = getattr(self._local, "push", None)
        if push is None:
            push = self._ctx.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 1000)
            push.connect(self._pipe)
            self._local.push = push
        push.send_multipart([kind] + frames, copy=False)

    def _send(self, header, payloads=()):
        self._send_ctl(b"S", [encode(header)] + list(payloads))

    def _work_loop(self):
        try:
            while True:
                with self._cv:
                    while not self._jobs and not self._closed.is_set():
                        self._cv.wait(0.5)
                    if self._closed.is_set():
                        return
                    job = self._jobs.popleft()
                    self._busy = True
                try:
                    if job["type"] == "trig":
                        self._do_trig(job)
                    else:
                        self._do_phase(job)
                except Exception:  # noqa: BLE001 - never let the worker die
                    log.error("internal error while handling '%s':\n%s", job["type"], traceback.format_exc())
                finally:
                    with self._cv:
                        self._busy = False
                        self._cv.notify_all()
        finally:
            push = getattr(self._local, "push", None)
            if push is not None:
                push.close(linger=1000)

    def _do_phase(self, m):
        ctx = ActionContext(self, m["run"], 0, self.level, m["seq"], m.get("t", 0), {}, None)
        self._current = (m["seq"], ctx)
        error = None
        try:
            if m["type"] == "pre":
                if self.setup:
                    _call(self.setup, m["config"], ctx)
            elif self.teardown:
                _call(self.teardown, m["status"], ctx)
        except Exception as e:  # noqa: BLE001
            error = describe(e)
            self.counters["errors"] += 1
            log.error("%s-operation failed: %s", m["type"], error)
        finally:
            self._current = None
        reply = {"v": PROTOCOL_VERSION, "type": "ready" if m["type"] == "pre" else "done", "run": m["run"], "seq": m["seq"], "ok": error is None}
        if error is not None:
            reply["error"] = error
        self._send(reply)

    def _do_trig(self, m):
        run, trig = m["run"], m["trig"]
        with self._cv:
            if run in self._aborted_runs:
                return
        batch = _Batch(run, trig)
        ctx = ActionContext(self, run, trig, m["lvl"], m["seq"], m["t"], m["params"], batch)
        self._current = (m["seq"], ctx)
        self.counters["actions"] += 1
        error = None
        try:
            r = _call(self.action, trig, m["params"], ctx)
            if r is not None:
                if not isinstance(r, dict):
                    raise TypeError("an action returns None or a dict {stream: value}, got %s" % type(r).__name__)
                for k, v in r.items():
                    self._add_row(batch, k, v)
        except Exception as e:  # noqa: BLE001 - every failure becomes an error ack with its message
            error = describe(e)
            self.counters["errors"] += 1
            log.error("action failed at trigger %d: %s", trig, error)
            if not isinstance(e, (Aborted, ValueError, TypeError)):
                log.debug("%s", traceback.format_exc())
        finally:
            self._current = None
        self._send_batch(batch)
        ack = {"v": PROTOCOL_VERSION, "type": "ack", "run": run, "trig": trig, "lvl": m["lvl"], "seq": m["seq"], "ok": error is None}
        if error is not None:
            ack["error"] = error
        if ctx.dt is not None:
            ack["dt"] = float(ctx.dt)
        self._send(ack)

    def _add_row(self, batch, stream_name, value):
        decl = self._stream_map.get(stream_name)
        if decl is None:
            raise ValueError(
                "player '%s': stream '%s' was not declared (declared: %s)"
                % (self.name, stream_name, ", ".join(self._stream_map) or "none")
            )
        b = to_payload(self.name, decl, value)
        batch.rows.append({"stream": stream_name, "dtype": decl["dtype"], "shape": decl["shape"]})
        batch.payloads.append(b)
        batch.size += len(b)
        if batch.size >= BATCH_BYTES:
            self._send_batch(batch)

    def _send_batch(self, batch):
        if not batch.rows:
            return
        self._send({"v": PROTOCOL_VERSION, "type": "data", "run": batch.run, "trig": batch.trig, "rows": batch.rows}, batch.payloads)
        batch.rows, batch.payloads, batch.size = [], [], 0

    def push_data(self, run, trig, stream_name, value):
        """Send one row of a declared stream at once (late data, from any thread)."""
        b = _Batch(run, trig)
        self._add_row(b, stream_name, value)
        self._send_batch(b)
