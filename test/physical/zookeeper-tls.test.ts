/**
 * ZooKeeper over TLS (tls_enable, tls_ca_file, tls_cert_file, tls_key_file, tls_skip_verify,
 * tls_min_version) against a ZooKeeper of its own whose secureClientPort requires client
 * certificates signed by a CA this test generates.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ZooKeeperBackend, createZooKeeperBackend, zookeeperSettings } from "../../adapters/node/stores/zookeeper.js";
import { type TestCertificates, makeCertificates } from "../helpers/test-certificates.js";
import { type RunningZooKeeper, startZooKeeper } from "../helpers/zookeeper-server.js";

let dir = "";
let certificates: TestCertificates;
/** A CA that signed nothing the server presents. */
let strangerCaFile = "";
let zookeeper: RunningZooKeeper;
const backends: ZooKeeperBackend[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "zookeeper-tls-"));
  await Promise.all([mkdtemp(join(dir, "ours-")), mkdtemp(join(dir, "stranger-"))]).then(async ([ours, stranger]) => {
    [certificates, strangerCaFile] = await Promise.all([makeCertificates(ours), makeCertificates(stranger).then((c) => c.caFile)]);
  });
  zookeeper = await startZooKeeper({ certFile: certificates.serverCertFile, keyFile: certificates.serverKeyFile, caFile: certificates.caFile });
}, 90_000);

afterAll(async () => {
  for (const backend of backends.splice(0)) backend.close();
  await zookeeper?.stop();
  await rm(dir, { recursive: true, force: true });
});

const tlsOptions = (): Record<string, string> => ({
  address: zookeeper.secureAddress!,
  path: `tls-${crypto.randomUUID()}/`,
  tls_enable: "true",
  tls_ca_file: certificates.caFile,
  tls_cert_file: certificates.clientCertFile,
  tls_key_file: certificates.clientKeyFile,
});

async function connected(options: Record<string, string>): Promise<ZooKeeperBackend> {
  const backend = await createZooKeeperBackend(options, {});
  backends.push(backend);
  return backend;
}

describe("zookeeper over TLS", () => {
  it("stores, lists and holds the lock through a client-certificate connection", async () => {
    const backend = await connected(tlsOptions());
    await backend.put("a/b", new TextEncoder().encode("over tls"));
    expect(new TextDecoder().decode((await backend.get("a/b"))!)).toBe("over tls");
    expect(await backend.list("a/")).toEqual(["b"]);
    const hold = await backend.lockWith("core/lock", "node-1").acquire(AbortSignal.timeout(10_000));
    expect(await backend.currentHolder("core/lock")).toEqual({ value: "node-1", epoch: hold.epoch });
  });

  it("accepts a server certificate from an unknown CA only with tls_skip_verify", async () => {
    const skipping = await connected({ ...tlsOptions(), tls_ca_file: strangerCaFile, tls_skip_verify: "true" });
    await skipping.put("k", new TextEncoder().encode("v"));
    expect(new TextDecoder().decode((await skipping.get("k"))!)).toBe("v");
  });

  it("refuses an unverified server, goes without a client certificate nowhere, and keeps to tls_min_version", async () => {
    // Each failure waits out the connection timeout (the library only retries), so they run together.
    const { tls_cert_file: _cert, tls_key_file: _key, ...withoutClientCertificate } = tlsOptions();
    await Promise.all([
      expect(connected({ ...tlsOptions(), tls_ca_file: strangerCaFile })).rejects.toThrow(/last TLS error: .*certificate/i),
      // The certificate names 127.0.0.1 only: reached by another name, the server is not the one named.
      expect(connected({ ...tlsOptions(), address: zookeeper.secureAddress!.replace("127.0.0.1", "localhost") })).rejects.toThrow(
        /last TLS error: .*localhost/i,
      ),
      // The server speaks TLS 1.2 only (ZooKeeper's default): a client asking for 1.3 at least gets no session.
      expect(connected({ ...tlsOptions(), tls_min_version: "tls13" })).rejects.toThrow(/last TLS error: .*(protocol|version)/i),
      expect(connected(withoutClientCertificate)).rejects.toThrow(/no ZooKeeper server at .* answered/),
      // Plain TCP to the TLS port, and TLS to the plain port: neither gets a session.
      expect(connected({ ...tlsOptions(), tls_enable: "false", tls_ca_file: "", tls_cert_file: "", tls_key_file: "" })).rejects.toThrow(/answered/),
      expect(connected({ ...tlsOptions(), address: zookeeper.address })).rejects.toThrow(/last TLS error/),
    ]);
  }, 60_000);

  it("checks the TLS keys", async () => {
    const settings = zookeeperSettings({ tls_enable: "true", tls_ca_file: "/ca.pem", tls_min_version: "tls13" }, {});
    expect(settings.tls).toEqual({ caFile: "/ca.pem", certFile: undefined, keyFile: undefined, skipVerify: false, minVersion: "TLSv1.3" });
    expect(zookeeperSettings({ tls_enabled: "true" }, {}).tls).toMatchObject({ minVersion: "TLSv1.2", skipVerify: false });
    expect(zookeeperSettings({}, {}).tls).toBeNull();
    expect(() => zookeeperSettings({ tls_enable: "true", tls_min_version: "tls10" }, {})).toThrow(/tls_min_version "tls10" is not accepted/);
    expect(() => zookeeperSettings({ tls_enable: "true", tls_cert_file: "/c.pem" }, {})).toThrow(/tls_cert_file and tls_key_file go together/);
    expect(() => zookeeperSettings({ tls_ca_file: "/ca.pem" }, {})).toThrow(/tls_ca_file is set but TLS is off/);
    expect(() => zookeeperSettings({ tls_enable: "maybe" }, {})).toThrow(/tls_enable/);
    await expect(createZooKeeperBackend({ ...tlsOptions(), tls_ca_file: join(dir, "missing.pem") }, {})).rejects.toThrow(
      /storage "zookeeper": tls_ca_file ".*missing.pem" cannot be read/,
    );
  });
});
