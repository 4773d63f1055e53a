"""The generic Tango player: one Tango device driven per trigger, configured from the scenario (or the XML player list).

    - { name: cryo, level: 1, device: "tango:sr/cryo/1",
        settings: { write: { setpoint: temperature },     # attribute <- trigger parameter (when the trigger has it)
                    command: Apply,                       # then run a command (a name, {name, arg}, or a list)
                    waitState: true,                      # then wait while the device is MOVING/RUNNING
                    read: [temperature, { attr: spectrum, stream: spec }] } }   # then read attributes as streams

Per trigger: write every mapped attribute whose parameter the trigger carries, run the commands, wait (optionally)
for the device to leave MOVING/RUNNING, read the attributes and push one row per stream. Streams are declared from
the device's attribute configuration (type, format, unit) when the player starts; a spectrum or image needs its
size: the current value's shape is used, or give `shape` in the read entry. Settings:

    device        the Tango device (filled from `tango:NAME`; a full TRL like tango://host:10000/a/b/c#dbase=no works)
    write         {attribute: parameter}
    command       a command name, {name, arg} (arg: a literal, or "$param" for a trigger parameter), or a list
    waitState     wait while State() is MOVING or RUNNING after the commands (bounded by `timeout`, seconds)
    read          [attribute or {attr, stream?, dtype?, shape?, units?, role?}]
    pre / post    commands run on the pre- and post-operation signals (e.g. Init, Off)
    kind          device kind announced to the Director ("positioner" makes its x/y streams a raster's axes)
    timeout       seconds: the proxy's timeout, the waitState bound and how long to wait for the device at start
                  (default 10)
"""

import time

try:
    import tango
except ImportError as e:  # pragma: no cover - depends on the host
    raise ImportError(
        "the Tango player needs PyTango (module 'tango'): apt install python3-tango, or pip install pytango"
    ) from e

from .player import PlayerError, stream

# Tango data type -> wire dtype. The wire has no 64-bit integers: DevLong64/DevULong64 (PyTango's `int`) travel as
# float64, exact up to 2**53; other types without a wire dtype are refused with a clear message.
_T = tango.CmdArgType
_DTYPE = {
    int(_T.DevDouble): "float64",
    int(_T.DevFloat): "float32",
    int(_T.DevLong): "int32",
    int(_T.DevShort): "int16",
    int(_T.DevUShort): "uint16",
    int(_T.DevULong): "uint32",
    int(_T.DevUChar): "uint8",
    int(_T.DevBoolean): "uint8",
    int(_T.DevState): "uint8",
    int(_T.DevEnum): "int16",
    int(_T.DevLong64): "float64",
    int(_T.DevULong64): "float64",
}
_BUSY = (tango.DevState.MOVING, tango.DevState.RUNNING)


def _commands(spec, where):
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for c in items:
        if isinstance(c, str):
            out.append((c, None))
        elif isinstance(c, dict) and isinstance(c.get("name"), str):
            out.append((c["name"], c.get("arg")))
        else:
            raise PlayerError("%s: a command is a name or {name, arg}, got %r" % (where, c))
    return out


class TangoPlayer:
    def __init__(self, options):
        self.name = options.get("name", "tango")
        dev = options.get("device")
        if not isinstance(dev, str) or not dev:
            raise PlayerError("Tango player '%s': no device (use device: tango:domain/family/member)" % self.name)
        self.device_name = dev
        self.timeout = float(options.get("timeout", 10))
        where = "Tango player '%s' (%s)" % (self.name, dev)
        self.where = where
        # a device server that is still starting gets `timeout` seconds to answer
        end = time.monotonic() + self.timeout
        while True:
            try:
                self.proxy = tango.DeviceProxy(dev)
                self.proxy.set_timeout_millis(int(self.timeout * 1000))
                self.proxy.ping()
                break
            except tango.DevFailed as e:
                if time.monotonic() > end:
                    raise PlayerError("%s: cannot reach the device within %g s: %s" % (where, self.timeout, _reason(e))) from None
                time.sleep(1.1)  # Tango refuses a reconnection within 1 s of a failed one
        writes = options.get("write") or {}
        if not isinstance(writes, dict):
            raise PlayerError("%s: write must be {attribute: trigger parameter}" % where)
        self.writes = list(writes.items())
        self.commands = _commands(options.get("command"), where)
        self.pre_commands = _commands(options.get("pre"), where)
        self.post_commands = _commands(options.get("post"), where)
        self.wait_state = bool(options.get("waitState", False))
        self.reads = []  # (attribute, stream name)
        self.streams = []
        reads = options.get("read") or []
        if isinstance(reads, str):
            reads = [reads]
        for r in reads:
            self._declare(r if isinstance(r, dict) else {"attr": r})
        known = {a.lower() for a in self.proxy.get_attribute_list()}
        for attr, _ in self.writes:
            if attr.lower() not in known:
                raise PlayerError("%s: write: no attribute '%s' (attributes: %s)" % (where, attr, ", ".join(sorted(known))))
        cmds = {c.cmd_name.lower() for c in self.proxy.command_list_query()}
        for c, _ in self.commands + self.pre_commands + self.post_commands:
            if c.lower() not in cmds:
                raise PlayerError("%s: no command '%s' (commands: %s)" % (where, c, ", ".join(sorted(cmds))))
        info = {}
        try:
            info = self.proxy.info()
        except tango.DevFailed:
            pass
        self.device = {"kind": options.get("kind", "tango"), "model": "Tango %s (%s)" % (getattr(info, "dev_class", "device"), dev), "simulated": bool(options.get("simulated", False))}

    def _declare(self, r):
        attr = r.get("attr")
        if not isinstance(attr, str):
            raise PlayerError("%s: read entries are attribute names or {attr, stream?, dtype?, shape?, units?}" % self.where)
        try:
            cfg = self.proxy.get_attribute_config(attr)
        except tango.DevFailed as e:
            raise PlayerError("%s: read: no attribute '%s': %s" % (self.where, attr, _reason(e))) from None
        dtype = r.get("dtype") or _DTYPE.get(int(cfg.data_type))
        if dtype is None:
            raise PlayerError("%s: attribute '%s' is %s, which has no wire dtype; give dtype in its read entry" % (self.where, attr, _T.values.get(int(cfg.data_type), cfg.data_type)))
        shape = r.get("shape")
        if shape is None:
            if cfg.data_format == tango.AttrDataFormat.SCALAR:
                shape = []
            else:
                try:
                    value = self.proxy.read_attribute(attr).value
                except tango.DevFailed as e:
                    raise PlayerError("%s: reading '%s' for its shape failed: %s" % (self.where, attr, _reason(e))) from None
                shape = list(getattr(value, "shape", [len(value)]))
        units = r.get("units", cfg.unit if cfg.unit and cfg.unit != "No unit" else None)
        name = r.get("stream", attr)
        self.streams.append(stream(name, dtype, shape, units=units, role=r.get("role", "signal")))
        self.reads.append((attr, name, dtype))

    def _run(self, commands, params, ctx):
        for name, arg in commands:
            if isinstance(arg, str) and arg.startswith("$"):
                key = arg[1:]
                if key not in params:
                    raise PlayerError("%s: command %s needs trigger parameter '%s' (have: %s)" % (self.where, name, key, ", ".join(params) or "none"))
                arg = params[key]
            try:
                self.proxy.command_inout(name, arg) if arg is not None else self.proxy.command_inout(name)
            except tango.DevFailed as e:
                raise PlayerError("%s: command %s failed: %s" % (self.where, name, _reason(e))) from None
            if ctx is not None:
                ctx.check()

    def setup(self, config, ctx):
        self._run(self.pre_commands, config, ctx)

    def teardown(self, status, ctx):
        self._run(self.post_commands, {}, None)

    def action(self, trigger, params, ctx):
        for attr, key in self.writes:
            if key in params:
                try:
                    self.proxy.write_attribute(attr, params[key])
                except tango.DevFailed as e:
                    raise PlayerError("%s: writing %s = %r failed: %s" % (self.where, attr, params[key], _reason(e))) from None
        self._run(self.commands, params, ctx)
        if self.wait_state:
            end = time.monotonic() + self.timeout
            while self.proxy.state() in _BUSY:
                if time.monotonic() > end:
                    raise PlayerError("%s: still %s after %g s" % (self.where, self.proxy.state(), self.timeout))
                ctx.sleep(0.01)
        rows = {}
        if self.reads:
            try:
                values = self.proxy.read_attributes([a for a, _, _ in self.reads])
            except tango.DevFailed as e:
                raise PlayerError("%s: reading %s failed: %s" % (self.where, ", ".join(a for a, _, _ in self.reads), _reason(e))) from None
            for (attr, name, dtype), v in zip(self.reads, values):
                if v.has_failed or v.value is None:
                    raise PlayerError("%s: attribute %s has no valid value (quality %s)" % (self.where, attr, v.quality))
                value = v.value
                if isinstance(value, bool) or isinstance(value, tango.DevState):
                    value = int(value)
                rows[name] = value
        return rows


def _reason(e):
    try:
        return "; ".join("%s: %s" % (a.reason, a.desc.strip()) for a in e.args)
    except Exception:  # noqa: BLE001
        return str(e)


def create_player(options):
    p = TangoPlayer(options)
    return {"action": p.action, "setup": p.setup, "teardown": p.teardown, "streams": p.streams, "device": p.device}
