import { Worker } from "node:worker_threads";
const url = new URL("./wk.ts", import.meta.url).href;
const code = `import("tsx/esm/api").then((m) => { m.register(); return import(${JSON.stringify(url)}); }).catch((e) => { console.error(e); process.exit(1); });`;
const w = new Worker(code, { eval: true });
const b = Buffer.allocUnsafe(3_500_000);
w.postMessage({ buf: b }, [b.buffer]);
console.log("after transfer", b.byteLength);
w.on("message", (m) => { console.log(m); w.terminate(); });
w.on("error", (e) => console.log("err", e));
