/** The Cloudflare Worker (wrangler.toml `main`): sends Vault clients to the active node. */
import { createEdgeApp } from "./app.js";

export default createEdgeApp();
