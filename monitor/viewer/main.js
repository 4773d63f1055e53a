// H5Web viewer of one finished scan: the file is fetched from the monitor (/api/file?name=...) and opened with
// h5wasm in the browser (@h5web/h5wasm's buffer provider). Built by vite (npm run build:viewer, run by `prepare`).
import { createElement as h, StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "@h5web/app";
import { H5WasmBufferProvider } from "@h5web/h5wasm";
import "@h5web/app/styles.css";

const name = new URLSearchParams(location.search).get("file");
const root = createRoot(document.getElementById("root"));
const fail = (text) => root.render(h("div", { id: "msg" }, text));

if (!name) fail("no file given (?file=NAME)");
else {
  document.title = `${name} - donki (H5Web)`;
  fetch(`../api/file?name=${encodeURIComponent(name)}`)
    .then(async (r) => {
      if (!r.ok) throw new Error(`${name}: ${r.status} ${await r.text()}`);
      return r.arrayBuffer();
    })
    .then(
      (buffer) => root.render(h(StrictMode, null, h(H5WasmBufferProvider, { filename: name, buffer }, h(App, { initialPath: "/entry" })))),
      (e) => fail(e.message),
    );
}
