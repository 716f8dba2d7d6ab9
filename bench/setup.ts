import { api } from "../test/helpers/cluster.js";

/** The secret every read load asks for, and the header that authorises it. */
export const READ_PATH = "secret/data/bench";

type Node = { port: number };

async function expectOk(what: string, call: Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: any }> {
  const response = await call;
  if (response.status >= 300) throw new Error(`${what} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response;
}

/** Mounts `secret/` as KV v2 (a dev node has it already). */
export async function mountKvV2(node: Node, rootToken: string): Promise<void> {
  await expectOk("mounting secret/", api(node, "POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, rootToken));
}

/**
 * Writes the secret the read loads ask for and returns a token that may only read it: real clients
 * use policy-bound tokens, so each read goes through token lookup and an ACL check as theirs do.
 */
export async function prepareReadToken(node: Node, rootToken: string): Promise<string> {
  const policy = `path "${READ_PATH}" { capabilities = ["read"] }`;
  await expectOk("writing the policy", api(node, "PUT", "sys/policies/acl/bench-read", { policy }, rootToken));
  await expectOk("writing the secret", api(node, "PUT", READ_PATH, { data: { username: "app", password: "correct horse battery staple" } }, rootToken));
  const created = await expectOk("creating the token", api(node, "POST", "auth/token/create", { policies: ["bench-read"], ttl: "24h" }, rootToken));
  const token = created.body?.auth?.client_token as string | undefined;
  if (!token) throw new Error(`token create returned no client_token: ${JSON.stringify(created.body)}`);
  const check = await api(node, "GET", READ_PATH, undefined, token);
  if (check.status !== 200) throw new Error(`the read token cannot read ${READ_PATH}: ${check.status} ${JSON.stringify(check.body)}`);
  return token;
}

/**
 * Like `prepareReadToken` (call that first), but the token's read policy comes from an identity
 * group its entity is in: a userpass login's token, carrying only "default" itself.
 */
export async function prepareGroupReadToken(node: Node, rootToken: string): Promise<string> {
  await expectOk("enabling userpass", api(node, "POST", "sys/auth/bench-userpass", { type: "userpass" }, rootToken));
  await expectOk("writing the user", api(node, "POST", "auth/bench-userpass/users/reader", { password: "bench-password" }, rootToken));
  const login = await expectOk("logging in", api(node, "POST", "auth/bench-userpass/login/reader", { password: "bench-password" }));
  const { client_token: token, entity_id: entityId } = login.body.auth as { client_token: string; entity_id: string };
  await expectOk(
    "writing the group",
    api(node, "POST", "identity/group", { name: "bench-readers", policies: ["bench-read"], member_entity_ids: [entityId] }, rootToken),
  );
  const check = await api(node, "GET", READ_PATH, undefined, token);
  if (check.status !== 200) throw new Error(`the group's token cannot read ${READ_PATH}: ${check.status} ${JSON.stringify(check.body)}`);
  return token;
}
