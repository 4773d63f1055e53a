/**
 * The file arguments of the command line (inspect, recover, quicklook, run --resume) checked before anything
 * opens them, so that a wrong file is one line naming it and what is wrong, never an HDF5 error stack.
 */
import { statSync } from "node:fs";

/** Why FILE is not a donki scan file (missing, a directory, not HDF5, HDF5 but not a donki scan), or null. */
export async function scanFileProblem(file: string): Promise<string | null> {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? `${file}: no such file` : `${file}: cannot read (${code ?? (e as Error).message})`;
  }
  if (st.isDirectory()) return `${file}: is a directory, not a scan file`;
  const { isHdf5, h5ready, h5wasm, getGroup, getDataset } = await import("../data/h5util.ts");
  try {
    if (!isHdf5(file)) return `${file}: not an HDF5 file`;
  } catch (e) {
    return `${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  const { ENTRY, TRIGGERS } = await import("../data/layout.ts");
  await h5ready();
  let f;
  try {
    f = new h5wasm.File(file, "r");
  } catch (e) {
    return `${file}: HDF5 file that cannot be opened (${(e as Error).message})`;
  }
  try {
    if (!getGroup(f, ENTRY) || !getDataset(f, TRIGGERS)) return `${file}: HDF5 file but not a donki scan (no ${getGroup(f, ENTRY) ? TRIGGERS : ENTRY})`;
    return null;
  } finally {
    f.close();
  }
}
