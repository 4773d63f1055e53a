/**
 * Per-message costs of the trigger path's codec, in one process (no sockets): the hand-written trig/ack encoders
 * beside msgpackr's pack (+ the copy out of its reused buffer), the decoders with their checks, ZMTP framing.
 *   node --import tsx bench/codec-micro.ts
 */
import { Packr } from "msgpackr";
import { decodeFromDirector, decodeFromPlayer } from "../runtime/protocol/codec.ts";
import { encodeTrig, encodeAck } from "../runtime/protocol/fast-codec.ts";
import { encodeMessage, FrameDecoder } from "../runtime/transport/zmtp/codec.ts";

const N = 500_000;
function bench(name: string, f: (i: number) => unknown): void {
  for (let i = 0; i < 50_000; i++) f(i);
  const t = performance.now();
  for (let i = 0; i < N; i++) f(i);
  console.log(`${name.padEnd(36)} ${(((performance.now() - t) * 1000) / N).toFixed(3)} us`);
}
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, bundleStrings: false });
const run = "r1-abcdef123456";
const trig = encodeTrig(run, 1234, 0, 5678, {}, 0);
const ack = encodeAck(run, 1234, 0, 5678, false);
const id = Buffer.from([0, 0x7a, 1, 2, 3, 4]);
bench("encodeTrig (fast-codec)", (i) => encodeTrig(run, i, 0, i, {}, 0));
bench("msgpackr pack trig + copy", (i) => Buffer.from(packr.pack({ v: 1, type: "trig", run, trig: i, lvl: 0, seq: i, params: {}, t: 0 })));
bench("encodeAck (fast-codec)", (i) => encodeAck(run, i, 0, i, false));
bench("msgpackr pack ack + copy", (i) => Buffer.from(packr.pack({ v: 1, type: "ack", run, trig: i, lvl: 0, seq: i, ok: true })));
bench("msgpackr unpack trig", () => packr.unpack(trig));
bench("decodeFromDirector trig (with checks)", () => decodeFromDirector([trig]));
bench("decodeFromPlayer ack (with checks)", () => decodeFromPlayer([id, ack], 1));
bench("ZMTP encodeMessage", () => encodeMessage([ack]));
const wire = encodeMessage([ack])[0];
const d = new FrameDecoder(() => {});
bench("ZMTP FrameDecoder.push", () => d.push(wire));
bench("ZMTP FrameDecoder.push, reused buffer", () => d.push(wire, true));
