import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Cluster, type ClusterNode } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";

/** A standby that answers locally never needs the active: with forwarding refused, it answers anyway. */
const LOCAL_ONLY = { "X-Vault-No-Request-Forwarding": "true" };
const ISSUER = "https://strongbox.example";

/** Three real node processes (S3 data, DynamoDB lock) with standby reads (the default). */
describe("identity on an HA cluster", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  const standbys = () => cluster.nodes.filter((node) => node !== active && node.process);
  const root = () => cluster.rootToken;

  beforeAll(async () => {
    ({ cluster, active } = await startKvCluster({
      lockOptions: { ha_lease_duration: "6s", ha_renew_interval: "1s", ha_retry_interval: "500ms" },
    }));
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("serves a group's templated policy through standbys, takes it back at once, and keeps identity tokens verifiable across a kill -9 failover", async () => {
    const standby = standbys()[0]!;
    // Writes sent to a standby reach the active (forwarded over the cluster channel).
    expect((await api(standby, "POST", "sys/auth/userpass", { type: "userpass" }, root())).status).toBe(204);
    for (const user of ["alice", "bob"]) {
      expect((await api(standby, "POST", `auth/userpass/users/${user}`, { password: "pw", token_policies: ["tokens"] }, root())).status).toBe(204);
      expect((await api(active, "POST", `secret/data/users/${user}`, { data: { owner: user } }, root())).status).toBe(200);
    }
    const policies = {
      tokens: `path "identity/oidc/token/*" { capabilities = ["read"] }`,
      "own-path": `path "secret/data/users/{{identity.entity.aliases.${await userpassAccessor()}.name}}" { capabilities = ["read"] }`,
    };
    for (const [name, policy] of Object.entries(policies)) expect((await api(standby, "PUT", `sys/policies/acl/${name}`, { policy }, root())).status).toBe(204);
    const login = async (user: string) => (await api(standby, "POST", `auth/userpass/login/${user}`, { password: "pw" })).body.auth;
    const alice = await login("alice");
    const bob = await login("bob");
    const group = await api(
      standby,
      "POST",
      "identity/group",
      { name: "staff", policies: ["own-path"], member_entity_ids: [alice.entity_id, bob.entity_id] },
      root(),
    );
    expect(group.status).toBe(200);

    for (const node of standbys()) {
      expect((await api(node, "GET", "secret/data/users/alice", undefined, alice.client_token, LOCAL_ONLY)).status).toBe(200);
      expect((await api(node, "GET", "secret/data/users/bob", undefined, alice.client_token, LOCAL_ONLY)).status).toBe(403);
      expect((await api(node, "GET", "secret/data/users/bob", undefined, bob.client_token, LOCAL_ONLY)).status).toBe(200);
    }
    // Alice leaves the group: her token loses the path at once, on every node.
    expect((await api(standby, "POST", `identity/group/id/${group.body.data.id}`, { member_entity_ids: [bob.entity_id] }, root())).status).toBe(204);
    for (const node of [active, ...standbys()]) {
      expect((await api(node, "GET", "secret/data/users/alice", undefined, alice.client_token, LOCAL_ONLY)).status).toBe(403);
    }

    expect((await api(active, "POST", "identity/oidc/config", { issuer: ISSUER }, root())).status).toBe(204);
    expect((await api(active, "POST", "identity/oidc/key/signer", { algorithm: "ES256", allowed_client_ids: ["*"] }, root())).status).toBe(204);
    expect((await api(active, "POST", "identity/oidc/role/app", { key: "signer", ttl: "1h" }, root())).status).toBe(204);
    const issued = await api(standby, "GET", "identity/oidc/token/app", undefined, alice.client_token, LOCAL_ONLY);
    expect(issued.status).toBe(200);
    const { token, client_id: clientId } = issued.body.data;
    // The discovery documents need no token, and a standby answers them itself.
    const standbyKeys = await api(standby, "GET", "identity/oidc/.well-known/keys", undefined, undefined, LOCAL_ONLY);
    expect(standbyKeys.status).toBe(200);
    await verify(token, standbyKeys.body, clientId, alice.entity_id);

    const victim = active;
    await victim.process!.kill();
    victim.process = null;
    active = await cluster.waitForActive({ timeoutMs: 30_000 });
    const keys = await api(active, "GET", "identity/oidc/.well-known/keys");
    await verify(token, keys.body, clientId, alice.entity_id);
    const introspected = await api(active, "POST", "identity/oidc/introspect", { token, client_id: clientId }, root());
    expect(introspected.body.data).toEqual({ active: true });
    // The entity, its group and its policies survived too.
    expect((await api(active, "GET", "secret/data/users/bob", undefined, bob.client_token)).status).toBe(200);
    expect((await api(active, "GET", "secret/data/users/alice", undefined, alice.client_token)).status).toBe(403);
  }, 120_000);

  async function userpassAccessor(): Promise<string> {
    return (await api(active, "GET", "sys/auth", undefined, root())).body.data["userpass/"].accessor;
  }
});

async function verify(token: string, keys: JSONWebKeySet, audience: string, subject: string): Promise<void> {
  const { payload } = await jwtVerify(token, createLocalJWKSet(keys), { issuer: `${ISSUER}/v1/identity/oidc`, audience });
  expect(payload.sub).toBe(subject);
}
