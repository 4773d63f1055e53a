import h5wasm from "h5wasm/node";
await h5wasm.ready;
const mode = process.argv[2]; const path = process.argv[3]; const N = Number(process.argv[4] ?? 50);
const opts: any = mode === "swmr" ? { libver: "v110" } : mode === "v110" ? { libver: "v110" } : {};
const f = new h5wasm.File(path, "w", opts);
const g = f.create_group("entry"); console.log("g", g?.path);
const H = 1300, W = 1340;
const ds = g.create_dataset({ name: "data", data: new Uint16Array(0), shape: [0, H, W], maxshape: [null, H, W], chunks: [1, H, W], dtype: "<H" });
const sc = g.create_dataset({ name: "sc", data: new Float64Array(0), shape: [0], maxshape: [null], chunks: [1024], dtype: "<d" });
if (mode === "swmr") { console.log("swmr", f.start_swmr_write()); }
const frame = new Uint16Array(H * W);
for (let i = 0; i < N; i++) {
  frame.fill(i + 1);
  ds.resize([i + 1, H, W]);
  ds.write_slice([[i, i + 1]], frame);
  sc.resize([i + 1]); sc.write_slice([[i, i + 1]], new Float64Array([i + 1]));
  if ((i + 1) % 10 === 0) { f.flush(); console.log("flushed", i + 1); }
}
console.log("done, sleeping");
setInterval(() => {}, 1000);
