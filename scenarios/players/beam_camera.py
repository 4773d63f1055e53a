"""A Python player: a small beam camera behind the specimen, reduced to three numbers per trigger.

Players never see each other's data (the Director is the only consumer of every stream, as in the original
DonkiOrchestra), so an analysis that needs a frame runs where the frame is acquired, like an areaDetector plugin:
this player acquires its own frame and pushes what it derives from it. Here the camera is simulated with numpy
(a Gaussian beam spot, attenuated by a synthetic specimen at the stage position and slightly deflected by it,
with Poisson noise seeded by the run's seed and the trigger number: the same scan gives the same numbers). On a
beamline, replace `acquire()` with the call to your camera (a Tango attribute, an EPICS PV, a vendor SDK).

Streams: roi_sum (counts in the region of interest, background subtracted), com_x / com_y (centre of mass of the
spot, pixels). Options (scenario `settings`): width, height, roi ([x0, y0, x1, y1]), flux (counts/s), keep_frame
(also push the frame, uint16).
"""

import numpy as np

from donki_player import stream

o = options  # noqa: F821 - the player's options, set by the loader (scenario settings)
W = int(o.get("width", 64))
H = int(o.get("height", 48))
X0, Y0, X1, Y1 = o.get("roi", [16, 8, 48, 40])
FLUX = float(o.get("flux", 2.0e6))
KEEP_FRAME = bool(o.get("keep_frame", False))

streams = [
    stream("roi_sum", "float64", [], units="counts"),
    stream("com_x", "float64", [], units="1"),
    stream("com_y", "float64", [], units="1"),
]
if KEEP_FRAME:
    streams.append(stream("frame", "uint16", [H, W], units="counts"))
device = {"kind": "area-detector", "model": "simulated beam camera (numpy)", "simulated": True}

_yy, _xx = np.mgrid[0:H, 0:W].astype(np.float64)


def transmission(x, y):
    """A synthetic specimen: three absorbing discs on a thin support (x, y in micrometres)."""
    t = 0.92
    for cx, cy, r, a in ((35.0, 40.0, 12.0, 0.55), (62.0, 58.0, 9.0, 0.35), (50.0, 25.0, 6.0, 0.7)):
        if (x - cx) ** 2 + (y - cy) ** 2 < r * r:
            t *= a
    return t


def acquire(x, y, dwell, rng):
    """One simulated frame: the attenuated spot, deflected a little by the specimen's edges, plus dark noise."""
    t = transmission(x, y)
    gx = (transmission(x + 1, y) - transmission(x - 1, y)) * 20.0
    gy = (transmission(x, y + 1) - transmission(x, y - 1)) * 20.0
    cx, cy, s = W / 2.0 + gx, H / 2.0 + gy, 4.0
    spot = np.exp(-((_xx - cx) ** 2 + (_yy - cy) ** 2) / (2 * s * s))
    expected = spot / spot.sum() * FLUX * dwell * t + 2.0
    return np.minimum(rng.poisson(expected), 65535).astype(np.uint16)


def action(trigger, params, ctx):
    x, y = float(params.get("x", 0.0)), float(params.get("y", 0.0))
    dwell = float(params.get("dwell", 0.1))
    rng = np.random.default_rng([ctx.seed, trigger])
    frame = acquire(x, y, dwell, rng)
    roi = frame[Y0:Y1, X0:X1].astype(np.float64)
    background = float(np.median(frame))
    signal = np.clip(roi - background, 0.0, None)
    total = float(signal.sum())
    yy, xx = np.mgrid[Y0:Y1, X0:X1]
    com_x = float((signal * xx).sum() / total) if total > 0 else float("nan")
    com_y = float((signal * yy).sum() / total) if total > 0 else float("nan")
    ctx.dt = dwell  # the camera exposes for the dwell time (virtual time follows it)
    out = {"roi_sum": total, "com_x": com_x, "com_y": com_y}
    if KEEP_FRAME:
        out["frame"] = frame
    return out
