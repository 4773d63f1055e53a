/**
 * One AreaDetector conformance suite, four subjects: the two camera twins directly, and the two SDK drivers
 * (the code that drives the real cameras) over their SDK twins, which are backed by the same camera twins.
 */
import { VirtualClock } from "../../runtime/clock.ts";
import { AndorIxonTwin } from "../../simulators/andor-ixon.ts";
import { createSimEnvironment } from "../../simulators/beam.ts";
import { PrincetonCcdTwin } from "../../simulators/pi-ccd.ts";
import { createAndorSdkTwin } from "../../simulators/sdk/andor/twin.ts";
import { createPvcamSdkTwin } from "../../simulators/sdk/pvcam/twin.ts";
import { createAndorIxon } from "../andor/driver.ts";
import { createPrincetonPvcam } from "../pvcam/driver.ts";
import { areaDetectorConformance } from "./area-detector.ts";

const andorBase = { roi: { x: 32, y: 32, width: 64, height: 32 }, binning: { x: 1, y: 1 }, exposureS: 0.01 };
const piBase = { roi: { x: 600, y: 600, width: 64, height: 32 }, binning: { x: 1, y: 1 }, exposureS: 0.01 };
const env = () => createSimEnvironment({ seed: 5, beam: { energyEv: 1000, fluxPhS: 1e7 } });

areaDetectorConformance("AndorIxonTwin", async () => {
  const clock = new VirtualClock();
  return { device: new AndorIxonTwin({ clock, env: env(), seed: 1 }), clock, base: andorBase, cooling: { setpointC: -60, timeoutS: 3600 } };
});

areaDetectorConformance("PrincetonCcdTwin", async () => {
  const clock = new VirtualClock();
  return { device: new PrincetonCcdTwin({ clock, env: env(), seed: 1 }), clock, base: piBase, cooling: { setpointC: -40, timeoutS: 3600 } };
});

areaDetectorConformance("AndorIxon driver over AndorSdk2Twin (WaitForAcquisition)", async () => {
  const clock = new VirtualClock();
  const sdk = createAndorSdkTwin({ clock, env: env(), seed: 1 });
  return { device: createAndorIxon({ sdk, clock }), clock, base: andorBase, cooling: { setpointC: -60, timeoutS: 3600 } };
});

areaDetectorConformance("AndorIxon driver over AndorSdk2Twin (GetStatus polling)", async () => {
  const clock = new VirtualClock();
  const sdk = createAndorSdkTwin({ clock, env: env(), seed: 1 });
  return { device: createAndorIxon({ sdk, clock, waitStrategy: "poll", pollS: 0.001 }), clock, base: andorBase, slackS: 0.001, cooling: { setpointC: -60, timeoutS: 3600 } };
});

areaDetectorConformance("PrincetonPvcam driver over PvcamSdkTwin", async () => {
  const clock = new VirtualClock();
  const sdk = createPvcamSdkTwin({ clock, env: env(), seed: 1 });
  return { device: createPrincetonPvcam({ sdk, clock, pollS: 0.005, coolingPollS: 2 }), clock, base: piBase, slackS: 0.005, cooling: { setpointC: -40, timeoutS: 3600 } };
});
