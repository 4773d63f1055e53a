/**
 * The run documents on the Director's event stream (topic `doc`), modelled on Bluesky's event model: `start`,
 * one `descriptor` per stream, `event_page` batches, `status`, `stop`. These zod schemas are the contract
 * (docs/protocol.md "Run documents" prints them as JSON Schema, `documentJsonSchemas()`); consumers in any
 * language validate against the JSON Schemas.
 */
import { RUN_STATUSES } from "../protocol/run-status.ts";
import { z } from "zod";

/** Bumped when a document changes in a way an older consumer would misread (new required field, changed meaning). */
export const DOC_VERSION = 1;

const num = z.number();
const axisRange = z.object({ start: num, stop: num, points: z.number().int().positive() });

export const StartDoc = z.object({
  version: z.literal(DOC_VERSION),
  run: z.string().describe("run id (the same as in every other document of the run)"),
  time: num.describe("wall clock at start, seconds since 1970"),
  scan: z.number().int().nullable().describe("scan number of the file"),
  scenario: z.string(),
  title: z.string(),
  planned: z.number().int().nullable().describe("last trigger number; null = runs until stopped"),
  firstTrigger: z.number().int().positive(),
  file: z.string().nullable(),
  raster: z
    .object({
      x: axisRange,
      y: axisRange,
      snake: z.boolean(),
      repeats: z.number().int().positive().describe("repetitions of the whole raster (e.g. a temperature series)"),
      positioner: z.string().optional(),
      units: z.string().describe("units of x and y (the positioner's)"),
    })
    .optional()
    .describe("for a raster scan: trigger t is point (t-1) mod (x.points*y.points), rows along y, snake reverses odd rows"),
  energyEv: num.optional(),
});

export const DescriptorDoc = z.object({
  version: z.literal(DOC_VERSION),
  run: z.string(),
  stream: z.string().describe("player/name, the key used in event_page"),
  player: z.string(),
  name: z.string(),
  level: z.number().int(),
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()).describe("per trigger; [] = scalar"),
  units: z.string(),
  role: z.string(),
  axis: z.object({ name: z.string(), units: z.string(), offset: num, step: num }).optional(),
  rois: z.record(z.string(), z.tuple([num, num])).optional().describe("for spectra: element regions in the axis units (eV)"),
  kind: z.enum(["scalar", "array"]).describe("scalar: values in event_page.data; array: row references in event_page.refs (and previews)"),
  preview: z.object({ shape: z.array(z.number().int().positive()), binning: z.array(z.number().int().positive()) }).optional(),
});

export const EventPageDoc = z.object({
  version: z.literal(DOC_VERSION),
  run: z.string(),
  seq: z.number().int().positive().describe("1, 2, ... per run: a consumer can tell it missed a page"),
  data: z.record(z.string(), z.object({ trig: z.array(z.number().int()), value: z.array(num) })).describe("scalar streams: the values of the triggers received since the last page"),
  refs: z
    .record(z.string(), z.object({ trig: z.array(z.number().int()), row: z.array(z.number().int()) }))
    .describe("array streams: the row of each trigger in the stream's dataset (row = trig - firstTrigger)"),
  previews: z
    .record(z.string(), z.object({ trig: z.number().int(), shape: z.array(z.number().int()), values: z.array(num) }))
    .describe("array streams: the latest array, decimated (sum over bins for spectra, mean for frames), at most one per stream per preview interval"),
});

export const PlayerStatusDoc = z.object({
  name: z.string(),
  level: z.number().int(),
  enabled: z.boolean(),
  alive: z.boolean(),
  lastSeenMs: num,
  lastAckMs: num.nullable().describe("latency of the player's last successful ack (trigger sent -> ack), ms"),
  faults: z.number().int().nonnegative(),
});

export const StatusDoc = z.object({
  version: z.literal(DOC_VERSION),
  run: z.string(),
  time: num,
  state: z.string(),
  reason: z.string().optional(),
  trig: z.number().int().describe("last trigger that completed every level"),
  planned: z.number().int().nullable(),
  elapsedS: num,
  etaS: num.nullable(),
  simTime: num,
  levels: z.array(z.object({ level: z.number().int(), players: z.array(PlayerStatusDoc) })),
  faults: z.array(z.object({ trig: z.number().int(), lvl: z.number().int(), player: z.string(), kind: z.string(), message: z.string(), action: z.string() })),
});

export const StopDoc = z.object({
  version: z.literal(DOC_VERSION),
  run: z.string(),
  time: num,
  status: z.enum(RUN_STATUSES).describe("the run's one end status (docs/data-format.md, End status)"),
  message: z.string().optional(),
  lastTrigger: z.number().int(),
  counts: z.record(z.string(), z.number().int().nonnegative()).describe("rows received per stream"),
  gaps: z.record(z.string(), z.object({ missing: z.number().int().nonnegative(), first: z.array(z.number().int()) })).describe("streams with missing triggers: how many, and the first 100"),
  file: z.string().nullable(),
  efficiency: z
    .object({ actual: num.nullable(), planned: num.nullable(), instrumentS: num, exposureS: num.nullable() })
    .optional()
    .describe("exposure / instrument time of the run, actual and planned (the file's /entry/dead_time has the details)"),
});

export const DOCUMENTS = { start: StartDoc, descriptor: DescriptorDoc, event_page: EventPageDoc, status: StatusDoc, stop: StopDoc } as const;
export type DocName = keyof typeof DOCUMENTS;
export type StartT = z.infer<typeof StartDoc>;
export type DescriptorT = z.infer<typeof DescriptorDoc>;
export type EventPageT = z.infer<typeof EventPageDoc>;
export type StatusT = z.infer<typeof StatusDoc>;
export type StopT = z.infer<typeof StopDoc>;

/** The message on the event stream: topic `doc`, body `{v, type: "doc", name, doc}`. */
export interface DocMessage {
  name: DocName;
  doc: StartT | DescriptorT | EventPageT | StatusT | StopT;
}

/** Validate one document; returns an error text naming the document and field, or null. */
export function checkDocument(name: string, doc: unknown): string | null {
  const s = DOCUMENTS[name as DocName];
  if (!s) return `unknown document '${name}' (known: ${Object.keys(DOCUMENTS).join(", ")})`;
  const r = s.safeParse(doc);
  if (r.success) return null;
  return r.error.issues.map((i) => `${name}.${i.path.join(".")}: ${i.message}`).join("; ");
}

/** The JSON Schemas (draft 2020-12) of the documents, from the zod schemas. */
export function documentJsonSchemas(): Record<DocName, unknown> {
  const out = {} as Record<DocName, unknown>;
  for (const [k, s] of Object.entries(DOCUMENTS)) out[k as DocName] = z.toJSONSchema(s);
  return out;
}
