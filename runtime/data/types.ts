/**
 * Data-side types shared by the Director and the NeXus writer/reader.
 *
 * A *stream* is one named value a player produces once per trigger (a scalar, a spectrum or a frame).
 * Its key is `player/name`. The file layout is described in docs/data-format.md.
 */
import type { DType } from "../devices/common.ts";

export type { DType };

export type { StreamRole } from "../protocol/messages.ts";
import type { StreamRole } from "../protocol/messages.ts";

export interface StreamSpec {
  player: string;
  name: string;
  dtype: DType;
  /** Per-trigger shape: [] scalar, [n] spectrum, [h, w] frame. */
  shape: number[];
  units?: string;
  role: StreamRole;
  /**
   * HDF5 path override for the dataset: absolute ("/entry/instrument/ccd/data") or relative to /entry
   * ("instrument/ccd/data"). Every parent group level is created (as NXcollection unless it already exists).
   */
  alias?: string;
  /** Linear calibration of the last dimension (MCA energy): written as a `<name>_<axis>` dataset beside the data. */
  axis?: import("../protocol/messages.ts").StreamAxis;
}

export interface RasterInfo {
  /** Stream keys of the positioners, slow then fast, e.g. ["stage/y", "stage/x"]. */
  axes: [string, string];
  /** [ny * repeats, nx]: slow (rows, every repetition after the other) then fast (columns). */
  shape: [number, number];
  /** Boustrophedon: odd rows (0-based) run the fast axis backwards. */
  snake: boolean;
  /** The planned axes (scenario units, micrometres for the TWINMIC stage): the image axes, whatever was measured. */
  x?: { start: number; stop: number; points: number };
  y?: { start: number; stop: number; points: number };
  /** Outer loop of the sequence (e.g. temperature): its own image dimension. */
  repeat?: { param: string; values: number[] };
}

/** The beamline around the detectors (NXsource, NXmonochromator, NXsample, NXmonitor): scenario `instrument:`. */
export interface InstrumentInfo {
  name: string;
  source: { name: string; type: string; probe: string };
  /** Incident energy when the sequence does not vary it, eV. */
  energyEv: number;
  sample: { rotationAngleDeg: number };
  /** Preset of the I0 monitor (the counters' gate), seconds. */
  monitorPresetS: number;
}

export interface RunInfo {
  runId: string;
  title: string;
  scenarioText?: string;
  scenarioHash?: string;
  scenarioName?: string;
  program: string;
  version: string;
  startTime: Date;
  /** null = unbounded run. */
  plannedTriggers: number | null;
  raster?: RasterInfo;
  /** sample, proposal, user ... (free-form, strings). */
  metadata: Record<string, string>;
  /** Source, monochromator, sample (defaults: TWINMIC at Elettra, 2 keV; runtime/data/layout.ts). */
  instrument?: InstrumentInfo;
  /** Device kind of each player (positioner, area-detector, mca, io, setpoint ...): where its streams go. */
  devices?: Record<string, string>;
  /** Planned incident energy of each trigger (index = trigger - 1), eV, when the sequence varies it. */
  energyPerTrigger?: number[];
  /** Planned sample position of each trigger (index = trigger - 1), from the sequence's x / y parameters. */
  plannedX?: number[];
  plannedY?: number[];
}

export type { RunStatus, RunOutcome, StreamGap } from "../protocol/run-status.ts";
import type { RunOutcome, RunStatus, StreamGap } from "../protocol/run-status.ts";

/**
 * Where the instrument's time went: planned (the timing model, `donki estimate`) and actual (reported by the players
 * in instrument time: simulated seconds for twins; on hardware the wall time of the trigger loop, phases unknown).
 * Written under /entry/dead_time (layout.ts) and printed in the run summary.
 */
export interface DeadTimeReport {
  instrumentS: { planned: number | null; actual: number };
  exposureS: { planned: number | null; actual: number | null };
  /** exposure / instrument time. */
  efficiency: { planned: number | null; actual: number | null };
  players: Array<{ name: string; level: number; overlap: boolean; phases: Record<string, { planned: number | null; actual: number | null }> }>;
}

export interface CloseSummary {
  /** How the trigger loop ended; the writer turns "completed" into "completed-with-gaps" when rows are missing. */
  status: RunOutcome;
  /** Planned vs actual dead time, written as /entry/dead_time. */
  deadTime?: DeadTimeReport;
  /** Last trigger that completed every level (0 if none). */
  lastTrigger: number;
  /** Highest trigger the Director issued (>= lastTrigger: an aborted trigger was issued but not completed). */
  lastIssued?: number;
  message?: string;
}

export interface StreamCompleteness {
  key: string;
  complete: boolean;
  /** Trigger numbers (within the expected range) for which no data arrived. */
  missing: number[];
}

export interface CloseResult {
  /** The file to open: the single file, or the master file of a rollover run. */
  path: string;
  scanNumber: number;
  /** Rollover part files (empty without rollover). */
  parts: string[];
  perStream: StreamCompleteness[];
  /** The status written to /entry/status (finalStatus of the summary's outcome and the gaps). */
  status: RunStatus;
  /** Streams with missing rows, as trigger ranges. */
  gaps: StreamGap[];
  /** Streams whose data could not be finalised at close (their error), recorded in the file too. */
  unfinalised: Array<{ stream: string; error: string }>;
}

export const streamKey = (s: Pick<StreamSpec, "player" | "name">): string => `${s.player}/${s.name}`;

export { DTYPE_BYTES } from "../devices/common.ts";
