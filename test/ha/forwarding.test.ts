import { connect as connectTls, type ConnectionOptions } from "node:tls";
import { connect as connectH2 } from "node:http2";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { combineShares } from "../../src/seal/shamir.js";
import { AesGcmBarrier } from "../../src/barrier/aes-gcm-barrier.js";
import { type Advertisement, readAdvertisement } from "../../src/ha/advertisement.js";
import { generateClusterIdentity } from "../../src/ha/identity.js";
import { createS3Backend } from "../../src/physical/s3.js";
import { clientTlsOptions, FORWARDING_ALPN } from "../../adapters/node/server/cluster-protocol.js";
import { ClusterForwarder } from "../../adapters/node/server/forwarder.js";
import { api, type Cluster, type ClusterNode, waitFor } from "../helpers/cluster.js";
import { startKvCluster } from "../helpers/kv-cluster.js";

/** Reads the active's advertisement the way a standby does: through the barrier, from storage. */
async function currentAdvertisement(cluster: Cluster): Promise<Advertisement> {
  const physical = await createS3Backend(
    {
      bucket: inject("s3Bucket"),
      endpoint: inject("s3Endpoint"),
      s3_force_path_style: "true",
      region: "us-east-1",
      access_key: "test",
      secret_key: "test",
      path: cluster.s3Prefix,
    },
    {},
  );
  const barrier = new AesGcmBarrier(physical);
  await barrier.unseal(await combineShares(cluster.unsealKeys.map((k) => Uint8Array.from(Buffer.from(k, "base64")))));
  const [nodeId] = await barrier.list("core/leader/");
  return (await readAdvertisement(barrier, nodeId!))!;
}

/** Outcome of one TLS handshake + HTTP/2 request on the cluster port. */
async function probeClusterPort(options: ConnectionOptions): Promise<"served" | "rejected"> {
  return new Promise((resolve) => {
    const session = connectH2("http://cluster.strongbox", { createConnection: () => connectTls(options) });
    const done = (result: "served" | "rejected") => {
      session.destroy();
      resolve(result);
    };
    session.on("error", () => done("rejected"));
    session.on("close", () => done("rejected"));
    const stream = session.request({ ":method": "GET", ":path": "/v1/sys/seal-status" });
    stream.on("response", (headers) => done(headers[":status"] === 200 ? "served" : "rejected"));
    stream.on("error", () => done("rejected"));
    stream.end();
  });
}

describe("request forwarding over mutually-authenticated TLS", () => {
  let cluster: Cluster;
  let active: ClusterNode;
  const standbys = () => cluster.nodes.filter((n) => n !== active && n.process);

  beforeAll(async () => {
    // About forwarding itself: standbys forward reads too, as they do with standby reads turned off.
    ({ cluster, active } = await startKvCluster({ extraConfig: "standby_reads = false\n" }));
  }, 90_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it("lands writes and reads through each standby on the active", async () => {
    const [a, b] = standbys();
    const write = await api(a!, "POST", "secret/data/shared", { data: { from: "standby-a" } }, cluster.rootToken);
    expect(write.status).toBe(200);
    expect(write.body.data.version).toBe(1);
    for (const node of [b!, active, a!]) {
      const read = await api(node, "GET", "secret/data/shared", undefined, cluster.rootToken);
      expect(read.status).toBe(200);
      expect(read.body.data.data).toEqual({ from: "standby-a" });
    }
    const list = await api(b!, "GET", "secret/metadata/?list=true", undefined, cluster.rootToken);
    expect(list.body.data.keys).toEqual(["shared"]);
    expect((await api(b!, "GET", "secret/data/shared", undefined, cluster.rootToken, { "X-Vault-No-Request-Forwarding": "1" })).status).toBe(307);
  });

  it("authorises forwarded requests on the active exactly as direct ones", async () => {
    const [a] = standbys();
    expect((await api(a!, "GET", "secret/data/shared", undefined, "hvs.not-a-token")).status).toBe(403);
    expect((await api(a!, "GET", "secret/data/shared")).status).toBe(403);
  });

  it("applies policies and auth methods to requests through a standby, forwarded or redirected", async () => {
    const [a, b] = standbys();
    const policy = 'path "secret/data/shared" { capabilities = ["read"] }';
    expect((await api(a!, "PUT", "sys/policies/acl/reader", { policy }, cluster.rootToken)).status).toBe(204);
    expect((await api(b!, "POST", "sys/auth/userpass", { type: "userpass" }, cluster.rootToken)).status).toBe(204);
    expect((await api(a!, "POST", "auth/userpass/users/alice", { password: "correct horse", token_policies: "reader" }, cluster.rootToken)).status).toBe(204);
    const login = await api(b!, "POST", "auth/userpass/login/alice", { password: "correct horse" });
    expect(login.status).toBe(200);
    const token = login.body.auth.client_token as string;
    expect((await api(a!, "GET", "secret/data/shared", undefined, token)).status).toBe(200);
    const denied = await api(a!, "POST", "secret/data/shared", { data: { x: 1 } }, token);
    expect(denied).toMatchObject({ status: 403, body: { errors: ["1 error occurred:\n\t* permission denied\n\n"] } });
    const redirected = await api(b!, "POST", "secret/data/shared", { data: { x: 1 } }, token, { "X-Vault-No-Request-Forwarding": "1" });
    expect(redirected.status).toBe(307);
    const followed = await fetch(redirected.headers.get("location")!, {
      method: "POST",
      headers: { "x-vault-token": token },
      body: JSON.stringify({ data: { x: 1 } }),
    });
    expect(followed.status).toBe(403);
  });

  it("returns byte-identical bodies forwarded and direct", async () => {
    const [a] = standbys();
    const raw = async (node: ClusterNode, init: RequestInit & { path: string }) => {
      const response = await fetch(`http://127.0.0.1:${node.port}/v1/${init.path}`, {
        ...init,
        headers: { "x-vault-token": cluster.rootToken, ...init.headers },
      });
      return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
    };
    const casConflict = { method: "POST", path: "secret/data/shared", body: JSON.stringify({ data: { x: 1 }, options: { cas: 99 } }) };
    expect(await raw(a!, casConflict)).toEqual(await raw(active, casConflict));
    const withoutRequestId = (text: string) => text.replace(/"request_id":"[^"]+"/, "");
    const [forwarded, direct] = [await raw(a!, { path: "secret/data/shared" }), await raw(active, { path: "secret/data/shared" })];
    expect(forwarded.status).toBe(200);
    expect(withoutRequestId(forwarded.text)).toBe(withoutRequestId(direct.text));
  });

  it("lists both standbys in the active's sys/ha-status", async () => {
    const nodes = await waitFor(
      async () => {
        const status = await api(active, "GET", "sys/ha-status", undefined, cluster.rootToken);
        return status.body.data.nodes.length === 3 ? status.body.data.nodes : null;
      },
      10_000,
      "heartbeats from both standbys",
    );
    expect(nodes.filter((n: any) => n.active_node)).toHaveLength(1);
    for (const standby of standbys()) {
      const entry = nodes.find((n: any) => n.api_address === standby.apiAddr);
      expect(entry).toMatchObject({ active_node: false });
      expect(Date.parse(entry.last_echo)).toBeGreaterThan(Date.now() - 30_000);
      expect(entry.cluster_address).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    }
    // A standby answers the same question by forwarding it.
    const viaStandby = await api(standbys()[0]!, "GET", "sys/ha-status", undefined, cluster.rootToken);
    expect(viaStandby.body.data.nodes).toHaveLength(3);
  });

  describe("the cluster port", () => {
    let advertisement: Advertisement;
    let base: ConnectionOptions;

    beforeAll(async () => {
      advertisement = await currentAdvertisement(cluster);
      base = clientTlsOptions(advertisement);
    });

    it("serves a client presenting the advertised certificate (control)", async () => {
      expect(await probeClusterPort(base)).toBe("served");
    });

    it("rejects a client without a certificate", async () => {
      expect(await probeClusterPort({ ...base, cert: undefined, key: undefined })).toBe("rejected");
    });

    it("rejects a self-signed certificate of anyone else's making, current or expired", async () => {
      const stranger = await generateClusterIdentity(3600_000);
      expect(await probeClusterPort({ ...base, cert: stranger.certificatePem, key: stranger.privateKeyPem })).toBe("rejected");
      const expired = await generateClusterIdentity(-3600_000);
      expect(await probeClusterPort({ ...base, cert: expired.certificatePem, key: expired.privateKeyPem })).toBe("rejected");
    });

    it("accepts TLS 1.2, rejects TLS 1.1 and clients without our ALPN protocol", async () => {
      expect(await probeClusterPort({ ...base, maxVersion: "TLSv1.2" })).toBe("served");
      expect(await probeClusterPort({ ...base, minVersion: "TLSv1", maxVersion: "TLSv1.1" })).toBe("rejected");
      expect(await probeClusterPort({ ...base, ALPNProtocols: ["h2"] })).toBe("rejected");
      expect(FORWARDING_ALPN).toMatch(/\/1$/);
    });

    it("never forwards to a server that is not the advertised active", async () => {
      const impostor = { ...advertisement, cluster_addr: `https://127.0.0.1:${active.port}` }; // the API port: plain HTTP, no advertised cert
      const forwarder = new ClusterForwarder();
      await expect(forwarder.forward(new Request("http://x/v1/sys/health"), new Uint8Array(), impostor, undefined)).rejects.toThrow();
      forwarder.close();
    });

    it("rejects the previous term's certificate after a failover", async () => {
      const before = active;
      await api(before, "PUT", "sys/step-down", undefined, cluster.rootToken);
      active = await cluster.waitForActive({ not: before });
      const next = await currentAdvertisement(cluster);
      expect(next.epoch).toBeGreaterThan(advertisement.epoch);
      const nextTarget = clientTlsOptions(next);
      expect(await probeClusterPort({ ...base, host: nextTarget.host, port: nextTarget.port })).toBe("rejected");
      // The new active starts its cluster listener once it is active: wait for it rather than race it.
      await waitFor(
        async () => ((await probeClusterPort(nextTarget)) === "served" ? true : null),
        15_000,
        "the new active's cluster listener to serve its certificate",
      );
      // The old active closed its cluster listener when it stepped down.
      expect(await probeClusterPort(base)).toBe("rejected");
    });
  });

  it("falls back to redirect or 503 while the active dies, then forwards to the new active", async () => {
    const victim = active;
    const [standby] = standbys();
    const statuses: number[] = [];
    victim.process!.child.kill("SIGKILL");
    const newActive = await waitFor(
      async () => {
        const response = await api(standby!, "GET", "secret/data/shared", undefined, cluster.rootToken);
        statuses.push(response.status);
        return response.status === 200 ? response : null;
      },
      20_000,
      "a forwarded read served by the new active",
    );
    expect(newActive.body.data.data).toEqual({ from: "standby-a" });
    expect(statuses.every((s) => s === 200 || s === 307 || s === 503)).toBe(true);
    victim.process = null;
    active = await cluster.waitForActive();
  });
});
