// `node --import ./bench/register-ts.mjs bench/run.ts`: runs the benchmarks' TypeScript in place.
// In place (not compiled to another folder) because the test helpers they reuse find the built CLI,
// the wrangler config and node_modules relative to their own location.
import { register } from "node:module";

register("./ts-loader.mjs", import.meta.url);
