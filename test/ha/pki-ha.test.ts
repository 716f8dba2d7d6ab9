import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, type Cluster, type ClusterNode } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";
import { scratch } from "../builtin/pki/pki-fixtures.js";

/** A standby answering locally never needs the active: with forwarding refused, it answers anyway. */
const LOCAL_ONLY = { "X-Vault-No-Request-Forwarding": "true" };

/** Three real node processes (S3 data, DynamoDB lock) with standby reads (the default), and a pki mount. */
describe("pki across failovers", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  let files: ReturnType<typeof scratch>;
  const standbys = () => cluster.nodes.filter((node) => node !== active && node.process);
  const token = () => cluster.rootToken;

  beforeAll(async () => {
    ({ cluster, active } = await startKvCluster({
      lockOptions: { ha_lease_duration: "6s", ha_renew_interval: "1s", ha_retry_interval: "500ms" },
    }));
    files = scratch();
    expect((await api(active, "POST", "sys/mounts/pki", { type: "pki" }, token())).status).toBe(204);
    expect((await api(active, "POST", "pki/root/generate/internal", { common_name: "HA Root", ttl: "700h" }, token())).status).toBe(200);
    expect((await api(active, "POST", "pki/roles/svc", { allow_any_name: true, ttl: "1h" }, token())).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    files?.done();
    await cluster?.stop();
  });

  async function issue(node: ClusterNode, name: string): Promise<string> {
    const issued = await api(node, "POST", "pki/issue/svc", { common_name: name }, token());
    expect(issued.status).toBe(200);
    return issued.body.data.serial_number;
  }

  /** The serials in the CRL `node` serves without a token, as openssl lists them (colon form). */
  async function crlSerials(node: ClusterNode, headers: Record<string, string> = {}): Promise<string[]> {
    const response = await fetch(`${node.apiAddr}/v1/pki/crl/pem`, { headers, redirect: "manual" });
    expect(response.status).toBe(200);
    const text = files.openssl("crl", "-noout", "-text", "-in", files.write(`crl-${node.index}-${Date.now()}.pem`, await response.text()));
    return [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((match) => match[1]!.toLowerCase().match(/../g)!.join(":"));
  }

  async function listedSerials(node: ClusterNode): Promise<string[]> {
    const listed = await api(node, "LIST", "pki/certs", undefined, token());
    expect(listed.status).toBe(200);
    return (listed.body.data.keys as string[]).map((serial) => serial.replaceAll("-", ":"));
  }

  it("serves every revocation acknowledged by the active from each standby's own CRL", async () => {
    const serials = [await issue(active, "a.test"), await issue(active, "b.test"), await issue(active, "c.test")];
    for (const serial of serials.slice(0, 2)) {
      expect((await api(active, "POST", "pki/revoke", { serial_number: serial }, token())).status).toBe(200);
    }
    for (const standby of standbys()) {
      const revoked = await crlSerials(standby, LOCAL_ONLY);
      expect(revoked).toEqual(expect.arrayContaining(serials.slice(0, 2)));
      expect(revoked).not.toContain(serials[2]);
      const ca = await fetch(`${standby.apiAddr}/v1/pki/ca/pem`, { headers: LOCAL_ONLY, redirect: "manual" });
      expect(ca.status).toBe(200);
      expect(await ca.text()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    }
  });

  it("after kill -9 of the active, the new active lists every certificate issued before, revokes them, and never reuses a serial", async () => {
    const before = [await issue(active, "d.test"), await issue(active, "e.test")];
    const revokedBefore = await crlSerials(active);
    const victim = active;
    await victim.process!.kill();
    victim.process = null;
    active = await cluster.waitForActive();

    const listed = await listedSerials(active);
    expect(listed).toEqual(expect.arrayContaining(before));
    expect(await crlSerials(active)).toEqual(expect.arrayContaining(revokedBefore));

    const after = [await issue(active, "f.test"), await issue(active, "g.test")];
    for (const serial of after) expect(listed).not.toContain(serial);
    expect(new Set([...listed, ...after]).size).toBe(listed.length + after.length);

    expect((await api(active, "POST", "pki/revoke", { serial_number: before[0] }, token())).status).toBe(200);
    for (const standby of standbys()) {
      expect(await crlSerials(standby, LOCAL_ONLY)).toEqual(expect.arrayContaining([...revokedBefore, before[0]]));
    }
  });
});
