import { afterEach, describe, expect, inject, it } from "vitest";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { createS3Backend } from "../../src/physical/s3.js";
import { type CountingProxy, startCountingProxy } from "../helpers/counting-proxy.js";

const READS = 20;

let proxy: CountingProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** An unsealed node on S3 (through a counting proxy) with a KV v2 secret and a token that may only read it. */
async function nodeOnS3(cache: { disabled?: boolean }) {
  proxy = await startCountingProxy(inject("s3Endpoint"));
  const physical = await createS3Backend(
    {
      bucket: inject("s3Bucket"),
      endpoint: proxy.endpoint,
      s3_force_path_style: "true",
      access_key: "test",
      secret_key: "test",
      path: `cache-${crypto.randomUUID()}`,
    },
    {},
  );
  const core = new Core({ physical, storageType: "s3", cache });
  const app = createApp({ core, maxRequestSize: 1024 * 1024 });
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await app.fetch(
      new Request(`http://strongbox.test/v1/${path}`, {
        method,
        headers: token ? { "x-vault-token": token } : {},
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: response.status, body: (await response.json().catch(() => null)) as any };
  };
  const init = await call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
  await call("PUT", "sys/unseal", { key: init.body.keys_base64[0] });
  const root = init.body.root_token as string;
  await call("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, root);
  await call("PUT", "sys/policies/acl/reader", { policy: 'path "secret/data/app" { capabilities = ["read"] }' }, root);
  await call("PUT", "secret/data/app", { data: { password: "hunter2" } }, root);
  const token = (await call("POST", "auth/token/create", { policies: ["reader"] }, root)).body.auth.client_token as string;
  const read = () => call("GET", "secret/data/app", undefined, token);
  return { core, read, proxy };
}

/** Storage requests per read over READS warm reads of one secret with a policy-bound token. */
async function requestsPerWarmRead(cache: { disabled?: boolean }): Promise<number> {
  const { core, read, proxy } = await nodeOnS3(cache);
  try {
    expect((await read()).body.data.data).toEqual({ password: "hunter2" });
    const before = proxy.total();
    for (let i = 0; i < READS; i++) expect((await read()).status).toBe(200);
    return (proxy.total() - before) / READS;
  } finally {
    await core.seal();
  }
}

describe("storage requests per warm KV v2 read on S3", () => {
  it("is zero with the cache, four (token entry, its parent, KV metadata, version) with disable_cache", async () => {
    expect(await requestsPerWarmRead({})).toBe(0);
    expect(await requestsPerWarmRead({ disabled: true })).toBe(4);
  });
});
