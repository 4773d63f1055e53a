import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["runtime/**/*.test.ts", "drivers/**/*.test.ts", "simulators/**/*.test.ts", "scenarios/**/*.test.ts", "test/**/*.test.ts"],
    setupFiles: ["test/helpers/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real processes; two cores in CI.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
