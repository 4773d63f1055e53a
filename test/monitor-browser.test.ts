/**
 * The live monitor in a real browser: Debian's chromium driven by playwright-core (no browser download) against
 * `donki run --monitor 0` of the TWINMIC demo in scaled time. The page shows the players, the state and maps that
 * fill in; without the operator token it cannot pause; with it, Pause pauses the scan and donki's terminal says so;
 * a reload mid-scan shows the whole map so far; Stop ends the scan (exit code 3); the finished file opens in H5Web.
 * DONKI_UPDATE_SCREENSHOT=1 refreshes docs/monitor.png and docs/h5web.png.
 */
import { afterAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { listScans } from "../runtime/monitor/server.ts";
import { ROOT, killAll, startProcess, tempDir, until } from "./helpers/procs.ts";

const CHROMIUM = process.env.DONKI_CHROMIUM ?? "/usr/bin/chromium";
const HAVE = existsSync(CHROMIUM);
if (!HAVE) console.warn(`monitor browser tests skipped: no chromium at ${CHROMIUM} (.ci/run installs Debian's chromium; DONKI_CHROMIUM=PATH to use another)`);

let browser: Browser | null = null;
afterAll(async () => {
  await browser?.close();
  killAll();
});

async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}

const filled = (p: Page, stream: string) => p.locator(`canvas.map[data-stream="${stream}"]`).evaluate((c) => Number((c as HTMLCanvasElement).dataset.filled));
const done = (p: Page) => p.locator("#progress").evaluate((e) => Number((e as HTMLElement).dataset.done ?? 0));

describe.skipIf(!HAVE)(`monitor page in chromium${HAVE ? "" : " (skipped: chromium not installed)"}`, () => {
  it("shows the scan live; read-only without the token; pause from the page pauses the scan (terminal shows it); a reload shows the whole map so far; stop ends it", async () => {
    const out = tempDir();
    const run = startProcess(["run", "scenarios/twinmic-raster.yaml", "--time", "scale:0.1", "--monitor", "0", "--out", out, "--no-progress"]);
    const urlLine = await run.waitFor(/donki monitor: http:\/\/127\.0\.0\.1:\d+\/$/, 60_000);
    const url = /http:\S+/.exec(urlLine)![0];
    const token = /operator token ([0-9a-f]{32})/.exec(await run.waitFor(/operator token/, 10_000))![1];
    browser = await launch();

    // read-only page: players, state, maps filling in
    const viewer = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
    await viewer.goto(url);
    await viewer.locator("#state[data-state=running]").waitFor({ timeout: 60_000 });
    await viewer.locator("#players tr[data-player]").nth(4).waitFor();
    expect((await viewer.locator("#players tr[data-player]").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.player))).sort()).toEqual(["ccd", "io", "stage", "temperature", "xrf"]);
    const maps = await viewer.locator("canvas.map").evaluateAll((cs) => cs.map((c) => (c as HTMLCanvasElement).dataset.stream));
    expect(maps).toEqual(expect.arrayContaining(["io/transmission", "xrf/roi_Fe", "xrf/roi_Si", "xrf/roi_O"]));
    await until(async () => (await filled(viewer, "io/transmission")) > 0, 30_000, "the transmission map to get its first pixels");
    const first = await filled(viewer, "io/transmission");
    await until(async () => (await filled(viewer, "io/transmission")) > first, 30_000, "the transmission map to fill in further");
    expect(await viewer.locator("#pause").isDisabled()).toBe(true);

    // without the token the page cannot pause, not even by talking to the socket itself
    const refused = await viewer.evaluate(
      () =>
        new Promise<{ ok: boolean; error: string }>((resolve) => {
          const ws = new WebSocket(`ws://${location.host}/ws`);
          ws.onopen = () => ws.send(JSON.stringify({ type: "control", cmd: "pause", token: "not-the-token", id: 1 }));
          ws.onmessage = (e) => {
            const m = JSON.parse(e.data);
            if (m.kind === "control-reply") resolve(m);
          };
        }),
    );
    expect(refused.ok).toBe(false);
    expect(refused.error).toMatch(/operator token/);
    expect(run.out.join("\n")).not.toMatch(/requested from the page|paused/);

    // the operator: token from the printed URL, Pause -> the scan pauses and the terminal says so
    const op = await browser.newPage({ viewport: { width: 1300, height: 1100 } });
    await op.goto(`${url}#token=${token}`);
    await op.locator("body[data-operator='1']").waitFor({ timeout: 20_000 });
    await op.locator("#pause").click();
    await run.waitFor(/donki: paused/, 20_000);
    expect(run.out.join("\n")).toMatch(/'pause' requested from the page/);
    await op.locator("#state[data-state=paused]").waitFor({ timeout: 20_000 });
    await viewer.locator("#state[data-state=paused]").waitFor({ timeout: 20_000 });

    // a reload mid-scan: the whole map so far (every completed trigger has its pixel)
    await until(async () => (await done(viewer)) > 0 && (await filled(viewer, "io/transmission")) === (await done(viewer)), 20_000, "the paused page to show every completed trigger");
    const before = await done(viewer);
    await viewer.reload();
    await viewer.locator("body[data-replayed='1']").waitFor({ timeout: 20_000 });
    // (the trigger in flight when the pause came completes while pausing, and the page's progress comes from status
    // documents sent every 500 ms: the count may still move a little; what matters is every completed point drawn)
    await until(async () => (await done(viewer)) >= before && (await filled(viewer, "io/transmission")) === (await done(viewer)), 20_000, "the reloaded page's progress and map");
    const after = await done(viewer);
    expect(await filled(viewer, "xrf/roi_Fe")).toBe(after);
    await viewer.locator("#state[data-state=paused]").waitFor({ timeout: 5000 });

    // resume, let the spectrum and frame previews arrive, take the README's screenshot, then stop from the page
    await op.locator("#resume").click();
    await run.waitFor(/donki: running/, 20_000);
    await until(async () => (await filled(op, "io/transmission")) > before + 30, 60_000, "more pixels after resuming");
    await op.locator("#frame-label", { hasText: "trigger" }).waitFor({ timeout: 20_000 });
    await op.locator("#spectrum-label", { hasText: "trigger" }).waitFor({ timeout: 20_000 });
    // DONKI_UPDATE_SCREENSHOT=1 refreshes the README's picture; otherwise it goes to the temp dir
    const shot = process.env.DONKI_UPDATE_SCREENSHOT ? join(ROOT, "docs/monitor.png") : join(out, "monitor.png");
    await op.screenshot({ path: shot, fullPage: true });
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG");
    await op.locator("#stop").click();
    await run.waitFor(/STOPPED/, 60_000);
    // the page stays up with the finished scan: a new browser gets the whole run and its end
    await run.waitFor(/stays up until Ctrl-C/, 10_000);
    const late = await browser.newPage();
    await late.goto(url);
    await late.locator("#state[data-state=stopped]").waitFor({ timeout: 20_000 });
    expect(await filled(late, "io/transmission")).toBeGreaterThan(before + 30);
    // the finished scan: listed with a link to the H5Web viewer, which opens the file with h5wasm in the browser
    const link = late.locator("#scans a", { hasText: "twinmic_00001.nxs" });
    await link.waitFor({ timeout: 30_000 });
    const viewerPage = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    await viewerPage.goto(await link.evaluate((a) => (a as HTMLAnchorElement).href));
    await viewerPage.getByText("io/transmission", { exact: false }).first().waitFor({ timeout: 60_000 });
    await viewerPage.getByText("xrf", { exact: true }).first().waitFor({ timeout: 5000 });
    if (process.env.DONKI_UPDATE_SCREENSHOT) await viewerPage.screenshot({ path: join(ROOT, "docs/h5web.png") });
    const bad = await viewerPage.request.get(`${url}api/file?name=${encodeURIComponent("../../etc/passwd")}`);
    expect(bad.status()).toBe(400);
    run.kill("SIGINT");
    expect(await run.exited).toBe(3);

    // the finished scan is in the list the page shows (the reader of donki inspect)
    const scans = await listScans(out);
    expect(scans).toHaveLength(1);
    expect(scans[0]).toMatchObject({ file: "twinmic_00001.nxs", scan: 1 });
    expect(scans[0].triggers).toBeLessThan(576);
  }, 240_000);
});
