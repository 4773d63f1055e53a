// `npm run build:viewer` (run by `prepare` on npm ci): bundle the H5Web viewer into monitor/viewer/dist with vite.
// Without the dev dependencies (npm ci --omit=dev) there is nothing to bundle with: the monitor then serves the
// live page only and says so at /viewer/.
import { fileURLToPath } from "node:url";

let vite;
try {
  vite = await import("vite");
} catch {
  console.warn("donki: the H5Web viewer is not built (vite is a dev dependency and is not installed)");
  process.exit(0);
}
await vite.build({ configFile: fileURLToPath(new URL("./vite.config.js", import.meta.url)) });
