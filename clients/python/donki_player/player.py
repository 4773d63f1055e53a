"""A donki Player in Python: registers with a Director, runs setup on `pre`, acts on every trigger of its level,
pushes trigger-tagged rows, runs teardown on `post`, heartbeats, and leaves cleanly. Wire: docs/protocol.md.

Threads: the main loop receives on the ZeroMQ DEALER socket and runs the user's code (setup, actions, teardown) one
request at a time, in arrival order, in the same thread, so a trigger costs no thread switch. A watchdog thread
takes the socket over (under a lock) while an action has been running for a while: it keeps heartbeats going and
handles `abort` and `cancel`, so a long action is never mistaken for a dead player and can be stopped. Other
threads (late data, stop) hand their messages over an inproc PUSH/PULL pipe to whichever thread holds the socket.
"""

import collections
import inspect
import logging
import math
import os
import re
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


def _adapt(fn):
    """fn called with as many of its arguments as it accepts: action(trigger), action(trigger, params),
    action(trigger, params, ctx); setup(), setup(config), setup(config, ctx). Decided once, not per call."""
    if fn is None:
        return None
    n = _positional_arity(fn)
    if n is None or n >= 3:
        return fn
    return (lambda *a: fn(*a[:n])) if n else (lambda *a: fn())


def describe(e):
    msg = str(e)
    name = type(e).__name__
    if not msg:
        return name
    if isinstance(e, (PlayerError, Aborted)) or type(e) is Exception:
        return msg
    return "%s: %s" % (name, msg)


def _phases(p):
    """A phases dict as the protocol wants it (docs/protocol.md, `ack`): {name: seconds >= 0}, at most 32."""
    if not isinstance(p, dict) or not all(isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in p.items()):
        raise TypeError("phases must be a dict {name: seconds}, got %r" % (p,))
    if len(p) > 32 or not all(math.isfinite(v) and v >= 0 for v in p.values()):
        raise ValueError("phases must have at most 32 entries of finite seconds >= 0, got %r" % (p,))
    return {k: float(v) for k, v in p.items()}


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
        #: simulated seconds per phase of this action (after the release point when it released), e.g.
        #: {"readout": 0.02}: sent with the ack or `complete` for the dead-time report; leave None on hardware
        self.phases = None
        self._batch = batch
        self._stop = None  # a threading.Event, made only when the action waits (most never do)
        self._released = False
        self._detached = False  # released with next=True: the next trigger's action may run during this one
        self._finished = False  # the action has returned
        self._done = None  # threading.Event set when a detached action has returned and sent its `complete`
        self._why = None

    # ---- data
    def push(self, stream_name, value):
        """One row of a declared stream for this trigger (sent with the ack, or at once past 4 MB)."""
        self._player._add_row(self._batch, stream_name, value)

    def push_at(self, trig, stream_name, value):
        """A row for another (earlier) trigger of this run, sent at once: late data."""
        self._player.push_data(self.run, trig, stream_name, value)

    def release(self, dt=None, next=False, phases=None):  # noqa: A002 - `next` as in the TypeScript player
        """Overlap (docs/protocol.md "Overlap"): the point the next level depends on has passed (the exposure is
        over). The rows pushed so far and an ack with ``pending: true`` go now; the action goes on (read-out,
        more rows) and its end is reported with ``complete``. The next trigger waits until the action returns,
        unless ``next`` is true: the device can begin the next action while this one goes on (a frame-transfer
        camera exposes its image area while the storage area reads out), so the player starts the next trigger's
        action at once, in another thread; at most one action goes on in the background, a third waits until it
        has returned. ``dt``: simulated seconds from the start of the level until now (virtual time); ``phases``:
        simulated seconds per phase so far ({"exposure": 0.1}), for the dead-time report. A second call, or a call
        after the action returned, does nothing."""
        if self._released or self._finished:
            return
        self._released = True
        self._player._release(self, dt, bool(next), phases)

    # ---- aborts: Python cannot interrupt a running function, so long actions look here
    @property
    def aborted(self):
        return self._why is not None

    def check(self):
        """Raise Aborted if the Director aborted the run or cancelled this trigger."""
        if self._why is not None:
            raise Aborted(self._why)

    def sleep(self, seconds):
        """Sleep, but raise Aborted at once if the run is aborted or the trigger cancelled."""
        ev = self._stop
        if ev is None:
            ev = self._stop = threading.Event()
        # _abort sets _why before it looks for the event: checking _why after making it misses no abort
        if self._why is not None or ev.wait(max(0.0, seconds)) or self._why is not None:
            raise Aborted(self._why or "aborted")

    def _abort(self, why):
        self._why = why
        ev = self._stop
        if ev is not None:
            ev.set()


# protocol `log` levels, lowest first (docs/protocol.md)
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


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
        token=None,
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
        self._action, self._setup, self._teardown = _adapt(action), _adapt(setup), _adapt(teardown)
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
        # the run's admission token (without CURVE every hello carries it; docs/protocol.md "Admission")
        if token is not None and not (isinstance(token, str) and re.fullmatch(r"[0-9a-f]{32}", token)):
            raise PlayerError("player '%s': the run token must be 32 lowercase hex characters" % name)
        self.token = token
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
        # the DEALER socket is used by whichever thread holds this lock (a lock is a full memory barrier, which is
        # what ZeroMQ asks of a socket that changes threads): the main loop, or the watchdog while the main loop is
        # in user code
        self._sock_lock = threading.Lock()
        self._dealer = None
        self._pull = None
        self._poller = None
        self._busy = False
        self._busy_since = 0.0
        self._idle = threading.Event()
        self._idle.set()
        self._quit = False
        self._current = None  # (seq, ActionContext) of the request being handled by the job loop
        # an action that released with next=True and still goes on in its own thread: its ActionContext, or None
        # (docs/protocol.md "Overlap": at most one action in the background)
        self._background = None
        # every action released with next=True that has not returned yet (the background one and, for a moment,
        # the one before it): abort and cancel reach them all
        self._detached = []
        self._bg_lock = threading.Lock()
        self._aborted_runs = set()
        self._stopping = False
        self._closed = threading.Event()
        self._welcome = threading.Event()
        self._registered = False
        self.director_logs = None
        self._fatal = None
        #: set when the Director said it is shutting down for good (`shutdown`): the player has closed
        self.shutdown_reason = None
        self._main = None
        self._watchdog = None
        self._local = threading.local()
        self._last_heard = self._last_hello = self._next_tick = 0.0
        self._hb = encode({"v": PROTOCOL_VERSION, "type": "hb"})

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
        self._dealer, self._pull = dealer, pull
        self._poller = zmq.Poller()
        self._poller.register(dealer, zmq.POLLIN)
        self._poller.register(pull, zmq.POLLIN)
        self._main = threading.Thread(target=self._main_loop, name="donki-player", daemon=True)
        self._watchdog = threading.Thread(target=self._watchdog_loop, name="donki-watchdog", daemon=True)
        self._main.start()
        self._watchdog.start()
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
        """Clean leave: finish the current request (and queued pre/post), send `bye`, close."""
        if self._closed.is_set():
            return
        self._stopping = True  # triggers that arrive from now on are not started; queued ones are dropped
        self._send_ctl(b"D", [])  # the main loop drops queued triggers
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self._closed.is_set():
            if self._idle.wait(0.05) and not self._busy and not self._jobs:
                bg = self._background
                if bg is None:
                    break
                bg._done.wait(0.05)
        self._send_ctl(b"B", [encode({"v": PROTOCOL_VERSION, "type": "bye", "reason": reason})])
        self._closed.wait(2.0)
        self.close()

    def close(self):
        """Close without `bye` (the Director notices through the heartbeat timeout)."""
        if not self._closed.is_set():
            try:
                self._send_ctl(b"Q", [])  # wake the main loop
            except zmq.ZMQError:
                pass
            self._quit = True
        self._abort_acting(lambda ctx: True, "player closing")
        alive = False
        for t in (self._main, self._watchdog):
            if t is not None and t is not threading.current_thread():
                t.join(5.0)
                alive = alive or t.is_alive()
        self._closed.set()
        if self.close_device:
            try:
                self.close_device()
            except Exception as e:  # noqa: BLE001
                log.warning("device close failed: %s", describe(e))
            self.close_device = None
        # the context is ended only when no thread can still be using a socket (an action that ignores the abort
        # keeps its thread; the process exits without it)
        if not alive and not self._ctx.closed:
            self._ctx.destroy(linger=0)

    # ------------------------------------------------------------------ the socket (lock held)

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
                **({"token": self.token} if self.token else {}),
            }
        )

    def _send_hello(self):
        self._last_hello = time.monotonic()
        self._dealer_send([self._hello()], 0)

    def _dealer_send(self, frames, wait_s):
        """Send on the DEALER without ever blocking for good (lock held). A DEALER send blocks while no connection is
        up (or its queue is full); a heartbeat or hello (wait_s 0) is then dropped, nobody would hear it; a reply or
        data (wait_s None) waits for the connection (back-pressure, like the TypeScript player) until the player
        closes; a goodbye waits wait_s seconds."""
        end = None if wait_s is None else time.monotonic() + wait_s
        while True:
            try:
                self._dealer.send_multipart(frames, zmq.NOBLOCK)
                return True
            except zmq.Again:
                pass
            if self._quit or (end is not None and time.monotonic() >= end):
                if wait_s != 0:
                    log.warning("message to the Director dropped: no connection (%s)", "closing" if self._quit else "timeout")
                return False
            self._dealer.poll(50 if end is None else max(1, min(50, int((end - time.monotonic()) * 1000))), zmq.POLLOUT)

    def _tick(self):
        """Heartbeat, or hello while unregistered or when the Director has been silent (lock held)."""
        now = time.monotonic()
        if now < self._next_tick:
            return
        self._next_tick = now + self.hb_interval
        if not self._registered:
            # no hb before welcome: hello again every interval (docs/protocol.md, Before `welcome`)
            self._send_hello()
        elif now - self._last_heard > self.hb_timeout:
            log.warning("the Director at %s is silent: registering again", self.director)
            self._registered = False
            self._send_hello()
        else:
            self._dealer_send([self._hb], 0)

    def _pump(self, timeout_s):
        """Wait up to timeout_s for input; handle every message; forward frames from other threads; heartbeat.
        Returns False when the player must end (lock held)."""
        events = dict(self._poller.poll(max(0.0, timeout_s) * 1000.0))
        if self._pull in events:
            while True:
                try:
                    frames = self._pull.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                kind = frames[0]
                if kind == b"Q":
                    return False
                if kind == b"D":
                    self._drop_jobs(lambda j: j["type"] == "trig")
                    continue
                self._dealer_send(frames[1:], 1.0 if kind == b"B" else None)
                if kind == b"B":
                    return False
        if self._dealer in events:
            while True:
                try:
                    frames = self._dealer.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                heard = self._on_message(frames)
                if heard:
                    self._last_heard = time.monotonic()
                if heard == "rehello" and time.monotonic() - self._last_hello >= self.hb_interval:
                    self._send_hello()
                if heard == "shutdown":
                    return False
                if self._fatal is not None:
                    self._welcome.set()
                    return False
        self._tick()
        return True

    def _drop_jobs(self, which):
        """Remove queued requests (lock held: the main loop takes jobs only under the lock)."""
        keep = [j for j in self._jobs if not which(j)]
        self._jobs.clear()
        self._jobs.extend(keep)

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
            logs = m.get("logs")
            self.director_logs = logs if logs in LOG_LEVELS else None
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
        elif t == "shutdown":
            self.shutdown_reason = m.get("reason") if isinstance(m.get("reason"), str) else "the Director is shutting down"
            log.info("the Director is shutting down: %s", self.shutdown_reason)
            return "shutdown"
        elif t == "abort":
            run = m["run"]
            self._aborted_runs.add(run)
            self._drop_jobs(lambda j: j["type"] == "trig" and j["run"] == run)
            self._abort_acting(lambda ctx: ctx.run == run, "run aborted by the Director")
        elif t == "cancel":
            seq = m["seq"]
            self._drop_jobs(lambda j: j["type"] == "trig" and j["seq"] == seq)
            self._abort_acting(lambda ctx: ctx.seq == seq, "trigger cancelled by the Director (no ack within its deadline)")
        elif t in ("pre", "trig", "post"):
            if t == "pre":
                self._aborted_runs.discard(m["run"])
            if t == "trig" and self._stopping:
                return True
            self._jobs.append(m)
        return True

    # ------------------------------------------------------------------ threads

    def _main_loop(self, before=None, first=True):
        """Receives, runs the user's code for each request in arrival order, sends the replies.

        Overlap with ``release(next=True)``: the loop cannot go on in the thread that is still inside that action,
        so the release starts a new thread running this loop (``first`` False; ``before``: the action that was
        already in the background, which must return before the next job starts: at most one in the background)
        and the action's thread ends after its ``complete``."""
        handed_over = False
        if first:
            now = time.monotonic()
            self._last_heard = now
            self._next_tick = now + self.hb_interval
        try:
            if first:
                with self._sock_lock:
                    self._send_hello()
            else:
                # the released action's thread was the loop: this thread is now (busy until `before` has returned,
                # so the watchdog keeps the socket alive meanwhile)
                self._busy_since = time.monotonic()
                self._busy = True
                try:
                    self._wait_action(before)
                finally:
                    self._busy = False
                    self._idle.set()
            while not self._quit:
                with self._sock_lock:
                    if not self._pump(0.0 if self._jobs else self._next_tick - time.monotonic()):
                        break
                    job = self._jobs.popleft() if self._jobs else None
                    if job is not None:
                        self._busy_since = time.monotonic()
                        self._busy = True
                        self._idle.clear()
                if job is None:
                    continue
                try:
                    if job["type"] == "trig":
                        ctx = self._do_trig(job)
                        if ctx is not None and ctx._detached:
                            return
                        # an action that ended: the one in the background must have returned too
                        self._wait_action(self._background)
                    else:
                        self._wait_action(self._background)
                        self._do_phase(job)
                except Exception:  # noqa: BLE001 - never let the loop die
                    log.error("internal error while handling '%s':\n%s", job["type"], traceback.format_exc())
                finally:
                    # an action released with next=True handed the loop to another thread: its state is not ours
                    handed_over = self._main is not threading.current_thread()
                    if handed_over:
                        self._detached_end()
                    else:
                        self._busy = False
                        self._idle.set()
                if handed_over:
                    return  # (after an internal error too: the loop is another thread's now)
        except zmq.ZMQError as e:
            handed_over = self._main is not threading.current_thread()
            if not self._quit and not handed_over:
                self._fatal = PlayerError("player '%s': socket failure: %s" % (self.name, e))
                self._welcome.set()
        finally:
            if not handed_over:
                self._quit = True
                with self._sock_lock:
                    self._dealer.close(linger=1000 if not self._fatal else 0)
                    self._pull.close(linger=0)
                self._close_local_push()
                self._closed.set()
                self._idle.set()
                self._abort_acting(lambda ctx: True, "player closing")

    def _close_local_push(self, linger=0):
        # a detached action's thread lingers: its `complete` may still be in the pipe to the socket's holder
        push = getattr(self._local, "push", None)
        if push is not None:
            push.close(linger=linger)
            self._local.push = None

    def _wait_action(self, ctx):
        """Wait until a detached action has returned (or the player quits)."""
        if ctx is None:
            return
        while not ctx._done.wait(0.1):
            if self._quit:
                return

    def _detached_end(self):
        """The thread of an action released with next=True: its `complete` went; it is no longer in the background."""
        ctx = getattr(self._local, "acting", None)
        if ctx is not None and ctx._done is not None:
            with self._bg_lock:
                if self._background is ctx:
                    self._background = None
                if ctx in self._detached:
                    self._detached.remove(ctx)
            ctx._done.set()
        self._close_local_push(linger=2000)

    def _abort_acting(self, which, why):
        """Abort the request the loop is handling and the action in the background, those for which which(ctx)."""
        cur = self._current
        with self._bg_lock:
            acting = [cur[1] if cur else None] + self._detached
        for ctx in acting:
            if ctx is not None and which(ctx):
                ctx._abort(why)

    def _watchdog_loop(self):
        """While the main loop is in user code for a while, keep the socket alive: heartbeats, abort, cancel."""
        threshold = min(self.hb_interval / 2.0, 0.1)
        while not self._quit:
            time.sleep(min(self.hb_interval / 5.0, 0.02))
            if not (self._busy and time.monotonic() - self._busy_since > threshold):
                continue
            with self._sock_lock:
                try:
                    while self._busy and not self._quit and not self._dealer.closed:
                        if not self._pump(min(0.05, max(0.0, self._next_tick - time.monotonic()))):
                            self._quit = True
                            break
                except zmq.ZMQError:
                    return

    def _send_ctl(self, kind, frames):
        """Hand frames to whichever thread holds the socket (one PUSH socket per thread)."""
        if self._closed.is_set() or self._ctx.closed:
            return
        push = getattr(self._local, "push", None)
        if push is None:
            push = self._ctx.socket(zmq.PUSH)
            push.setsockopt(zmq.LINGER, 1000)
            push.connect(self._pipe)
            self._local.push = push
        push.send_multipart([kind] + frames, copy=False)

    def forward_log(self, level, msg, t=None, fields=None):
        """Send one log record to the Director (`log`), when it asked for them (welcome.logs) and this level is at
        or above the one it asked for. Never raises; a record logged while forwarding is not forwarded again."""
        want = self.director_logs
        if not want or not self._registered or self._closed.is_set() or getattr(self._local, "forwarding", False):
            return
        if level not in LOG_LEVELS or LOG_LEVELS.index(level) < LOG_LEVELS.index(want):
            return
        self._local.forwarding = True
        try:
            h = {"v": PROTOCOL_VERSION, "type": "log", "level": level, "msg": str(msg)}
            if t is not None:
                h["t"] = t
            if fields:
                h["fields"] = dict(list(fields.items())[:16])
            self._send(h)
        except Exception:  # noqa: BLE001 - the record stays in the local log
            pass
        finally:
            self._local.forwarding = False

    def _send(self, header, payloads=()):
        """Send a message: directly when the socket is free, else through the holder of the socket."""
        frames = [encode(header)] + list(payloads)
        if self._sock_lock.acquire(blocking=False):
            try:
                if not self._quit and not self._dealer.closed:
                    self._dealer_send(frames, None)
                    return
            finally:
                self._sock_lock.release()
        self._send_ctl(b"S", frames)

    def _do_phase(self, m):
        ctx = ActionContext(self, m["run"], 0, self.level, m["seq"], m.get("t", 0), {}, None)
        self._current = (m["seq"], ctx)
        error = None
        try:
            if m["type"] == "pre":
                if self._setup:
                    self._setup(m["config"], ctx)
            elif self._teardown:
                self._teardown(m["status"], ctx)
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
        if run in self._aborted_runs:
            return
        batch = _Batch(run, trig)
        ctx = ActionContext(self, run, trig, m["lvl"], m["seq"], m["t"], m["params"], batch)
        self._local.acting = ctx
        self._current = (m["seq"], ctx)
        self.counters["actions"] += 1
        error = None
        try:
            r = self._action(trig, m["params"], ctx)
            if ctx.phases is not None:
                ctx.phases = _phases(ctx.phases)
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
            ctx._finished = True
            if not ctx._detached:
                self._current = None
        self._send_batch(batch)
        # after an early ack (ctx.release) the end of the action is a `complete`
        ack = {"v": PROTOCOL_VERSION, "type": "complete" if ctx._released else "ack", "run": run, "trig": trig, "lvl": m["lvl"], "seq": m["seq"], "ok": error is None}
        if error is not None:
            ack["error"] = error
        if ctx.dt is not None:
            ack["dt"] = float(ctx.dt)
        if ctx.phases:
            ack["phases"] = _phases(ctx.phases)
        self._send(ack)
        return ctx

    def _release(self, ctx, dt, next_, phases):
        if phases is not None:
            phases = _phases(phases)
        self._send_batch(ctx._batch)
        ack = {"v": PROTOCOL_VERSION, "type": "ack", "run": ctx.run, "trig": ctx.trigger, "lvl": ctx.level, "seq": ctx.seq, "ok": True, "pending": True}
        if dt is not None:
            ack["dt"] = float(dt)
        if phases:
            ack["phases"] = _phases(phases)
        self.counters["released"] = self.counters.get("released", 0) + 1
        self._send(ack)
        if not next_ or self._quit:
            return
        # the next trigger's action may start now: this action goes on in its thread, the job loop in a new one
        ctx._done = threading.Event()
        with self._bg_lock:
            before = self._background
            self._background = ctx
            self._detached.append(ctx)
            ctx._detached = True
            if self._current is not None and self._current[1] is ctx:
                self._current = None
        self.counters["detached"] = self.counters.get("detached", 0) + 1
        t = threading.Thread(target=self._main_loop, args=(before, False), name="donki-player", daemon=True)
        self._main = t
        t.start()

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
