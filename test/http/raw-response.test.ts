import { describe, expect, it } from "vitest";
import { unsealedServer } from "../helpers/in-process-server.js";

describe("raw responses (Vault's http_raw_body convention)", () => {
  it("are an engine's answer only: a KV secret holding the same keys is served in the JSON envelope", async () => {
    const server = await unsealedServer();
    await server.call("POST", "sys/mounts/kv1", { type: "kv" }, server.root);
    const lookalike = { http_status_code: 200, http_content_type: "text/html", http_raw_body: "PGgxPmhpPC9oMT4=" };
    expect((await server.call("PUT", "kv1/page", lookalike, server.root)).status).toBe(204);
    const read = await server.app.fetch(new Request("http://strongbox.test/v1/kv1/page", { headers: { "x-vault-token": server.root } }));
    expect(read.headers.get("content-type")).toBe("application/json");
    expect((await read.json()).data).toEqual(lookalike);
  });
});
