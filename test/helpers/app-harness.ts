import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";

export type Json = Record<string, any>;

export interface AppCall {
  status: number;
  /** The raw response text, for assertions on exact number spellings. */
  text: string;
  body: Json;
}

/** An unsealed in-process node behind `createApp`, with its root token. */
export async function unsealedApp(maxRequestSize = 1024 * 1024) {
  const core = new Core({ physical: new InmemBackend(), storageType: "inmem" });
  const app = createApp({ core, maxRequestSize });
  const call = async (method: string, path: string, body?: unknown, token?: string): Promise<AppCall> => {
    const response = await app.fetch(
      new Request(`http://strongbox.test/v1/${path}`, {
        method,
        headers: token ? { "x-vault-token": token } : {},
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      }),
    );
    const text = await response.text();
    return { status: response.status, text, body: (text ? JSON.parse(text) : null) as Json };
  };
  const init = await call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
  await call("PUT", "sys/unseal", { key: init.body.keys_base64[0] });
  return { core, app, call, rootToken: init.body.root_token as string };
}
