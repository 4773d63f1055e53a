#!/usr/bin/env node
// Entry point of the `donki` command: registers the TypeScript loader, then runs the CLI with the device
// catalogue (drivers/registry.ts), so runtime/ itself never imports a concrete driver or twin.
import { register } from "tsx/esm/api";
register();
const { main } = await import("../runtime/cli/main.ts");
const catalogue = await import("../drivers/registry.ts");
await main(process.argv, catalogue);
