"""The command line of a Python player (mirrors `donki player`)."""

import argparse
import importlib
import json
import logging
import os
import re
import signal
import sys
import threading

from .player import Player, PlayerError
from .script import behaviour_from, load_script

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

LOG_LEVELS = {"trace": logging.DEBUG, "debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "warning": logging.WARNING, "error": logging.ERROR, "fatal": logging.CRITICAL, "silent": logging.CRITICAL + 10}


def _value(s):
    """An option value: JSON when it parses as JSON (numbers, true/false, {...}, [...]), else the string."""
    try:
        return json.loads(s)
    except ValueError:
        return s


def _key_value(s):
    i = s.find("=")
    if i <= 0:
        raise argparse.ArgumentTypeError("options are KEY=VALUE, got '%s'" % s)
    return s[:i], _value(s[i + 1:])


def read_key_file(path):
    """A CURVE key file of `donki keys --out FILE`: 'public: Z85' and 'secret: Z85' lines."""
    pub = sec = None
    with open(path, encoding="utf8") as f:
        for line in f:
            k, _, v = line.strip().partition(":")
            v = v.strip()
            if k == "public" and len(v) == 40:
                pub = v
            elif k == "secret" and len(v) == 40:
                sec = v
    if not pub or not sec:
        raise PlayerError("%s: not a CURVE key file (needs 'public: <40 Z85 chars>' and 'secret: <40 Z85 chars>' lines; make one with donki keys --out FILE)" % path)
    return {"publicKey": pub, "secretKey": sec}


def parser():
    p = argparse.ArgumentParser(prog="python3 -m donki_player", description="run one Python player process that registers with a donki Director")
    p.add_argument("--name", required=True, help="player name (unique per Director)")
    p.add_argument("--level", required=True, type=int, help="priority level (-1 disables)")
    p.add_argument("--director", required=True, help="Director player endpoint, e.g. tcp://127.0.0.1:5570")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--script", help="action script defining action(trigger, params[, ctx]) (or create_player(options))")
    src.add_argument("--module", help="an importable module with the same names (e.g. donki_player.tango)")
    p.add_argument("-o", "--opt", action="append", type=_key_value, default=[], metavar="KEY=VALUE", help="option passed to the script (repeatable; JSON values are decoded)")
    p.add_argument("--settings", help="options as one JSON object (merged before -o)")
    p.add_argument("--join", default="next-trigger", choices=["next-trigger", "next-run"], help="join a running scan at the next trigger or the next run")
    p.add_argument("--seed", type=int, default=1, help="seed for a simulated device (ctx.seed)")
    p.add_argument("--time", default="real", help="clock of a simulated device: virtual | real | scale:FACTOR (ctx.time_mode)")
    p.add_argument("--curve-server-key", help="Director's CURVE public key (enables CURVE)")
    p.add_argument("--curve-public-key", help="this player's CURVE public key")
    p.add_argument("--curve-secret-key", help="this player's CURVE secret key (or DONKI_CURVE_SECRET_KEY)")
    p.add_argument("--curve-key-file", help="this player's CURVE key file (instead of the two keys)")
    p.add_argument("--token-file", help="the run's token file (written by donki run|director; without CURVE every player needs it; or DONKI_RUN_TOKEN)")
    p.add_argument("--hb-interval", type=int, default=500, help="heartbeat interval, ms")
    p.add_argument("--hb-timeout", type=int, default=3000, help="heartbeat timeout, ms (the Director's welcome overrides it)")
    p.add_argument("--register-timeout", type=float, default=10.0, help="seconds to wait for the Director's welcome")
    p.add_argument("--parent-pid", type=int, help="exit when this process is gone (set by donki run for its local players)")
    return p


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


_PINO_LEVELS = {logging.DEBUG: 20, logging.INFO: 30, logging.WARNING: 40, logging.ERROR: 50, logging.CRITICAL: 60}
_SHORT = {"WARNING": "WARN", "CRITICAL": "FATAL"}


class _JsonFormatter(logging.Formatter):
    """pino's line: level number, epoch-ms time, name player:NAME, msg."""

    def __init__(self, name):
        super().__init__()
        self.player = name

    def format(self, record):
        rec = {"level": _PINO_LEVELS.get(record.levelno, 30), "time": int(record.created * 1000), "pid": os.getpid(), "name": "player:" + self.player, "msg": record.getMessage()}
        if record.exc_info:
            rec["err"] = self.formatException(record.exc_info)
        return json.dumps(rec, separators=(",", ":"))


class _PrettyFormatter(logging.Formatter):
    """23:51:07.042 WARN  NAME: message (local time)"""

    def __init__(self, name):
        super().__init__(fmt="%(asctime)s.%(msecs)03d %(short)-5s " + name + ": %(message)s", datefmt="%H:%M:%S")

    def format(self, record):
        record.short = _SHORT.get(record.levelname, record.levelname)
        return super().format(record)


# a Z85 key may begin with '-' (the alphabet has it), which argparse would take for an option: the value that follows
# one of these options is always its value
_VALUE_OPTIONS = ("--curve-server-key", "--curve-public-key", "--curve-secret-key")


def _join_key_values(argv):
    out, i = [], 0
    while i < len(argv):
        if argv[i] in _VALUE_OPTIONS and i + 1 < len(argv):
            out.append(argv[i] + "=" + argv[i + 1])
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


_PROTOCOL_LEVEL = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error", logging.CRITICAL: "fatal"}


class _DirectorHandler(logging.Handler):
    """Forwards records to the Director as `log` messages (Player.forward_log decides whether it wants them)."""

    def __init__(self, player):
        super().__init__()
        self.player = player

    def emit(self, record):
        try:
            level = _PROTOCOL_LEVEL.get(record.levelno) or ("fatal" if record.levelno > logging.ERROR else "warn" if record.levelno > logging.INFO else "info" if record.levelno > logging.DEBUG else "debug")
            msg = record.getMessage()
            if record.exc_info:
                msg += "\n" + logging.Formatter().formatException(record.exc_info)
            fields = {"logger": record.name} if record.name != "root" else None
            self.player.forward_log(level, msg, record.created * 1000.0, fields)
        except Exception:  # noqa: BLE001 - logging must never fail the player
            pass


def main(argv=None):
    a = parser().parse_args(_join_key_values(list(sys.argv[1:] if argv is None else argv)))
    level = LOG_LEVELS.get(os.environ.get("DONKI_LOG", "info").lower(), logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    # the same two forms as the TypeScript side: JSON lines (DONKI_LOG_FORMAT=json, set by donki run, which shows
    # them in its own human form) or one human line with local time
    handler.setFormatter(_JsonFormatter(a.name) if os.environ.get("DONKI_LOG_FORMAT") == "json" else _PrettyFormatter(a.name))
    logging.basicConfig(level=level, handlers=[handler])
    err = lambda m: sys.stderr.write("donki_player: %s\n" % m)  # noqa: E731

    options = {"name": a.name}
    if a.settings:
        try:
            s = json.loads(a.settings)
        except ValueError as e:
            err("--settings is not valid JSON: %s" % e)
            return EXIT_BAD_INPUT
        if not isinstance(s, dict):
            err("--settings must be a JSON object")
            return EXIT_BAD_INPUT
        options.update(s)
    options.update(dict(a.opt))

    curve = None
    try:
        if a.curve_key_file:
            if not a.curve_server_key:
                raise PlayerError("CURVE needs both --curve-server-key (the Director's public key) and --curve-key-file (this player's keys)")
            curve = dict(read_key_file(a.curve_key_file), serverKey=a.curve_server_key)
        elif a.curve_server_key:
            curve = {"serverKey": a.curve_server_key, "publicKey": a.curve_public_key, "secretKey": a.curve_secret_key or os.environ.get("DONKI_CURVE_SECRET_KEY")}
            if not curve["publicKey"] or not curve["secretKey"]:
                raise PlayerError("CURVE needs --curve-public-key and --curve-secret-key (or DONKI_CURVE_SECRET_KEY) too")
        token = os.environ.get("DONKI_RUN_TOKEN") or None
        if a.token_file:
            try:
                with open(a.token_file, encoding="utf-8") as fh:
                    token = fh.read().strip()
            except OSError as e:
                raise PlayerError("--token-file: %s" % e) from None
            if not re.fullmatch(r"[0-9a-f]{32}", token):
                raise PlayerError("%s is not a donki run token (32 hex characters)" % a.token_file)
        if a.script:
            b = load_script(a.script, options)
        else:
            mod = importlib.import_module(a.module)
            factory = getattr(mod, "create_player", None)
            b = behaviour_from(factory(dict(options)) if callable(factory) else mod, a.module)
        player = Player(
            a.name, a.level, a.director, join=a.join, curve=curve, hb_interval_ms=a.hb_interval, hb_timeout_ms=a.hb_timeout,
            register_timeout_s=a.register_timeout, options=options, time_mode=a.time, seed=a.seed, token=token, **b
        )
    except (PlayerError, OSError, ImportError) as e:
        err(str(e))
        return EXIT_BAD_INPUT
    except Exception as e:  # noqa: BLE001 - a script that fails while loading is bad input, with its message
        err("player '%s': loading failed: %s: %s" % (a.name, type(e).__name__, e))
        return EXIT_BAD_INPUT

    if not a.parent_pid:
        # a player not started by donki run (another host): its records also go to the Director, which asks for
        # them in its welcome; donki run shows its own players' stderr itself
        logging.getLogger().addHandler(_DirectorHandler(player))

    stop_reason = []
    wake = threading.Event()

    def on_signal(signum, _frame):
        if stop_reason:
            os._exit(130)
        stop_reason.append("signal %s" % signal.Signals(signum).name)
        wake.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        player.start()
    except PlayerError as e:
        err(str(e))
        return EXIT_BAD_INPUT
    sys.stdout.write("player %s registered (level %d) with %s\n" % (a.name, a.level, a.director))
    sys.stdout.flush()
    while not wake.is_set() and not player.closed:
        wake.wait(0.5)
        if a.parent_pid and not _alive(a.parent_pid):
            err("player '%s': the donki process %d that started it is gone; exiting" % (a.name, a.parent_pid))
            player.close()
            return EXIT_FAILED
    if stop_reason:
        player.stop(stop_reason[0])
        return EXIT_OK
    fatal = player.wait(0)
    player.close()
    if player.shutdown_reason is not None:
        err("player '%s': the Director at %s has shut down (%s); exiting" % (a.name, a.director, player.shutdown_reason))
        return EXIT_OK
    if fatal is not None:
        err(str(fatal))
        return EXIT_BAD_INPUT
    return EXIT_OK
