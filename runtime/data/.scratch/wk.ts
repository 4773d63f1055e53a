import { parentPort } from "node:worker_threads";
import h5wasm from "h5wasm/node";
const x: number = 3;
await h5wasm.ready;
parentPort!.on("message", (m: any) => { parentPort!.postMessage({ got: m.buf.byteLength, x }); });
