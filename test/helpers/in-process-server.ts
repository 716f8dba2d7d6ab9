import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { InmemBackend } from "../../src/physical/inmem.js";

export type Json = Record<string, any>;

export const PERMISSION_DENIED = { errors: ["1 error occurred:\n\t* permission denied\n\n"] };
export const INVALID_TOKEN = { errors: ["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"] };

/** An initialised, unsealed Core behind `createApp`, on in-memory storage, with a clock the test moves. */
export async function unsealedServer({ maxRequestSize = 1024 * 1024 } = {}) {
  let clock = Date.now();
  const physical = new InmemBackend();
  const core = new Core({ physical, storageType: "inmem", now: () => clock });
  const app = createApp({ core, maxRequestSize });
  /**
   * `path` is sent as written, so tests can put percent-escapes in it; a string body is sent as is;
   * `from` is the client address the runtime adapter reports. The raw text keeps exact number spellings.
   */
  const callText = async (method: string, path: string, body?: unknown, token?: string, from = "127.0.0.1", extraHeaders: Record<string, string> = {}) => {
    const headers: Record<string, string> = { ...extraHeaders, ...(token ? { "x-vault-token": token } : {}) };
    const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const response = await app.fetch(new Request(`http://strongbox.test/v1/${path}`, { method, headers, body: payload }), { clientAddress: from });
    return { status: response.status, text: await response.text() };
  };
  const call = async (method: string, path: string, body?: unknown, token?: string, from?: string, extraHeaders?: Record<string, string>) => {
    const { status, text } = await callText(method, path, body, token, from, extraHeaders);
    return { status, body: (text ? JSON.parse(text) : null) as Json };
  };
  const init = await call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
  await call("PUT", "sys/unseal", { key: init.body.keys_base64[0] });
  const root = init.body.root_token as string;
  const advance = (seconds: number) => (clock += seconds * 1000);
  const tokenWith = async (policies: string[]): Promise<string> => (await call("POST", "auth/token/create", { policies }, root)).body.auth.client_token;
  const writePolicy = async (name: string, policy: string) => {
    const written = await call("PUT", `sys/policies/acl/${name}`, { policy }, root);
    if (written.status !== 204) throw new Error(`writing policy ${name}: ${JSON.stringify(written)}`);
  };
  return { core, physical, app, call, callText, root, advance, tokenWith, writePolicy };
}

export type InProcessServer = Awaited<ReturnType<typeof unsealedServer>>;
