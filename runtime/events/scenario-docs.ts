/**
 * The document tap of a scenario run (donki run): what the start document says about the scenario (raster,
 * energy, file) and the descriptors' extras (the ROIs of a spectrum in eV, from the player's settings).
 */
import type { DataSink } from "../director/sink.ts";
import type { Director } from "../director/director.ts";
import type { LoadedScenario } from "../scenario/load.ts";
import { DocumentSink, type DocumentOptions } from "./documents.ts";

export function scenarioDocumentSink(sc: LoadedScenario, director: Director, inner: DataSink & { path?: string | null; scanNumber?: number | null }, firstTrigger: number, o: Partial<DocumentOptions> = {}): DocumentSink {
  const def = sc.def;
  const r = def.sequence.raster;
  const posName = r?.positioner ?? director.registry.all().find((e) => e.device.kind === "positioner")?.name;
  const describeRun: DocumentOptions["describeRun"] = () => {
    const pos = posName ? director.registry.get(posName) : undefined;
    const units = pos?.streams.find((s) => s.name === "x")?.units ?? pos?.streams[0]?.units ?? "";
    return {
      scan: inner.scanNumber ?? null,
      scenario: sc.name,
      title: def.title,
      file: inner.path ?? null,
      energyEv: def.instrument.monochromator.energy_eV,
      ...(r ? { raster: { x: r.x, y: r.y, snake: r.snake, repeats: def.sequence.repeat?.values.length ?? 1, ...(posName ? { positioner: posName } : {}), units } } : {}),
    };
  };
  const describeStream: DocumentOptions["describeStream"] = (player, stream) => {
    const p = def.players.find((q) => q.name === player);
    const rois = p?.settings.rois as Record<string, [number, number]> | undefined;
    const decl = director.registry.get(player)?.streams.find((s) => s.name === stream);
    if (rois && decl?.axis && decl.shape.length === 1) return { rois };
    return {};
  };
  return new DocumentSink(inner, { publish: (name, doc) => director.publish("doc", { name, doc }), publishLate: (name, doc) => director.publish("doc.late", { name, doc }), director, describeRun, describeStream, ...o }, firstTrigger);
}
