/**
 * Per test file (vitest `setupFiles`): when the file's tests are done, end the processes it started and remove
 * the temporary directories it made, so a test run leaves nothing behind in the temp dir.
 * Setup-file hooks run after the test file's own afterAll hooks (vitest's default "stack" order).
 */
import { afterAll } from "vitest";
import { killAllAndWait, removeTempDirs } from "./procs.ts";

afterAll(async () => {
  await killAllAndWait();
  removeTempDirs();
});
