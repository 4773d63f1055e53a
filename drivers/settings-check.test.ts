/** Static settings checks at scenario load: what they refuse, and that the error points at the field. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ScenarioError, loadScenario } from "../runtime/scenario/load.ts";
import { DEVICES, checkSettings, createDevicePlayer, deviceNames } from "./registry.ts";
import { checkDeviceSettings, mcaRange } from "./settings-check.ts";

const dir = mkdtempSync(join(tmpdir(), "donki-settings-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("device settings checked against the device's range", () => {
  it("MCA: the range is offset .. offset + gain x (bins - 1); ROIs outside or below the threshold are refused", () => {
    expect(mcaRange({ bins: 1024 })).toEqual({ lo: 0, hi: 1278.75, bins: 1024, gain: 1.25 });
    expect(checkDeviceSettings("sim:dante", { bins: 2048, rois: { Si: [1680, 1800] } })).toEqual([]);
    const [p] = checkDeviceSettings("sim:dante", { bins: 1024, rois: { Si: [1680, 1800] } });
    expect(p.path).toEqual(["rois", "Si"]);
    expect(p.message).toMatch(/outside the spectrum's range 0\.\.1278\.75 eV .*gainEvPerBin >= 1\.7595/);
    expect(checkDeviceSettings("sim:dante", { rois: { X: [50, 120] } })[0].message).toMatch(/noise threshold/);
    expect(checkDeviceSettings("sim:dante", { rois: { X: [900, 800] } })[0].message).toMatch(/below the high edge/);
    expect(checkDeviceSettings("sim:dante", { bins: 8192 })[0].path).toEqual(["bins"]);
    expect(checkDeviceSettings("sim:dante", { gainEvPerBin: 0 })[0].path).toEqual(["gainEvPerBin"]);
    expect(checkDeviceSettings("sim:dante", { peakingTimeUs: 100 })[0]).toMatchObject({ path: ["peakingTimeUs"], message: "must be 0.032..16 us (DANTE), got 100" });
    expect(checkDeviceSettings("dante", { gainEvPerBin: 2, bins: 1024, rois: { Si: [1680, 1800] } })).toEqual([]);
  });

  it("CCD: ROI inside the sensor, whole-pixel binning, a listed read-out rate and gain index", () => {
    expect(checkDeviceSettings("sim:pi-ccd", { roi: { x: 336, y: 324, width: 668, height: 652 }, binning: 4, gainIndex: 0, readoutRateHz: 2e6 })).toEqual([]);
    // a binning that does not divide the ROI is legal (the remainder is not read) but warned about
    const [w] = checkDeviceSettings("sim:pi-ccd", { roi: { x: 336, y: 325, width: 668, height: 650 }, binning: 4 });
    expect(w).toMatchObject({ path: ["binning"], severity: "warning" });
    expect(w.message).toMatch(/the last 2 rows of the ROI are not read \(frames 167x162\)/);
    expect(checkDeviceSettings("sim:pi-ccd", { roi: { x: 1000, y: 0, width: 400, height: 100 } })[0].message).toMatch(/outside the 1340x1300 sensor/);
    expect(checkDeviceSettings("sim:pi-ccd", { binning: 0 })[0].path).toEqual(["binning"]);
    expect(checkDeviceSettings("sim:pi-ccd", { readoutRateHz: 5e6 })[0].path).toEqual(["readoutRateHz"]);
    expect(checkDeviceSettings("sim:pi-ccd", { gainIndex: 3 })[0].path).toEqual(["gainIndex"]);
    expect(checkDeviceSettings("sim:pi-ccd", { exposure: 1e9 })[0]).toMatchObject({ path: ["exposure"], message: "must be at most 3600 s on this camera, got 1000000000" });
    expect(checkDeviceSettings("sim:pi-ccd", { emGain: 50 })[0].message).toMatch(/no EM gain/);
    expect(checkDeviceSettings("sim:pi-ccd", { frameTransfer: true })[0].path).toEqual(["frameTransfer"]);
    expect(checkDeviceSettings("sim:andor-ixon", { emGain: 50, frameTransfer: true })).toEqual([]);
    expect(checkDeviceSettings("sim:andor-ixon", { emGain: 5000 })[0].message).toMatch(/0\.\.1000/);
    expect(checkDeviceSettings("sim:andor-ixon", { roi: { x: 0, y: 0, width: 256, height: 128 } })[0].path).toEqual(["roi"]);
    // frame transfer links exposure and read-out: a shorter exposure is lengthened by the camera, said as a warning
    expect(checkDeviceSettings("sim:andor-ixon", { exposure: 0.01, readoutRateHz: 1e6 })).toEqual([
      { path: ["exposure"], severity: "warning", message: expect.stringMatching(/^frame transfer: exposure 0\.01 s is shorter than the read-out \(19\.008 ms at 1 MHz, less the 0\.064 ms shift\): the camera exposes 18\.944 ms/) },
    ]);
    expect(checkDeviceSettings("sim:andor-ixon", { exposure: 0.01, readoutRateHz: 1e6, frameTransfer: false })).toEqual([]);
    expect(checkDeviceSettings("sim:andor-ixon", { exposure: 0.01, readoutRateHz: 1e6, binning: 4 })).toEqual([]);
    expect(checkDeviceSettings("sim:andor-ixon", { exposure: 0.05, readoutRateHz: 1e6 })).toEqual([]);
  });

  it("a scenario with a CCD ROI beyond the sensor fails at load with file:line:col of the field", () => {
    const text = [
      "title: bad roi",
      "time: virtual",
      "players:",
      "  - name: ccd",
      "    level: 2",
      "    device: sim:pi-ccd",
      "    settings:",
      "      roi: { x: 1000, y: 0, width: 400, height: 100 }",
      "sequence: { points: [{ x: 1 }], dwell: 0.1 }",
      "",
    ].join("\n");
    const file = join(dir, "bad-ccd.yaml");
    writeFileSync(file, text);
    let err: unknown;
    try {
      loadScenario(file, { knownDevices: deviceNames(), checkSettings });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as ScenarioError).problems[0]).toMatch(/bad-ccd\.yaml:8:12: players\[0\]\.settings\.roi \(ccd, sim:pi-ccd\): ROI x 1000\.\.1399/);
  });

  it("every catalogue device has a strict settings schema: unknown keys refused with a did-you-mean, types and ranges", () => {
    for (const d of deviceNames()) expect(DEVICES[d].settings, d).toBeDefined();
    const [p] = checkSettings("sim:dante", { bnis: 2048 });
    expect(p.path).toEqual(["bnis"]);
    expect(p.message).toBe("unknown setting 'bnis' (did you mean `bins`?)");
    expect(checkSettings("sim:pi-ccd", { exposre: 0.1 })[0].message).toMatch(/did you mean `exposure`\?/);
    expect(checkSettings("sim:pi-ccd", { roi: { x: 0, y: 0, widht: 10, height: 10 } })[0]).toMatchObject({ path: ["roi", "widht"], message: expect.stringMatching(/did you mean `width`/) });
    // far from every known key: the known keys are listed instead
    expect(checkSettings("sim:io", { zzzzzz: 1 })[0].message).toMatch(/known: .*gate.*monitors/);
    expect(checkSettings("sim:dante", { bins: 2000 })[0]).toMatchObject({ path: ["bins"], message: expect.stringMatching(/1024, 2048 or 4096.*2000/) });
    expect(checkSettings("sim:pi-ccd", { exposure: -1 })[0]).toMatchObject({ path: ["exposure"], message: expect.stringMatching(/>0.*-1/) });
    expect(checkSettings("sim:pi-ccd", { binning: "3" })[0].path).toEqual(["binning"]);
    expect(checkSettings("sim:temperature", { config: { tau: 3 } })[0].message).toMatch(/did you mean `tauS`/);
    expect(checkSettings("pi-gcs", { transport: "tcp" })[0]).toMatchObject({ path: ["host"], message: expect.stringMatching(/required with transport tcp/) });
    expect(checkSettings("pi-gcs", { transport: "serial", path: "/dev/ttyUSB0" })).toEqual([]);
    expect(checkSettings("sim:io", { monitors: ["IO"] })[0]).toMatchObject({ path: ["monitors", 0], message: expect.stringMatching(/not a channel .*did you mean `I0`/) });
    // script/python players are not catalogue devices: their settings are options of the script, not checked here
    expect(checkSettings("script:foo.ts", { anything: 1 })).toEqual([]);
  });

  it("a player started by hand with a misspelt setting is refused before it connects", async () => {
    await expect(createDevicePlayer({ device: "sim:dante", name: "xrf", settings: { bnis: 2048 }, seed: 1, time: { mode: "virtual" } })).rejects.toThrow(/settings\.bnis: unknown setting 'bnis' \(did you mean `bins`\?\)/);
  });
});
