// Bundle of the H5Web viewer (monitor/viewer/dist, not committed): `npm run build:viewer`, run by `prepare` on npm ci.
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/viewer/",
  logLevel: "error",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 8000 },
});
