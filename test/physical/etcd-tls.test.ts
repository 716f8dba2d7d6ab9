/**
 * The Node server's etcd driver against an etcd of its own that requires client certificates
 * (tls_ca_file, tls_cert_file, tls_key_file), and etcd's username/password authentication.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcdNodeDriver } from "../../adapters/node/stores/etcd-tls.js";
import { type RunningEtcd, startEtcd } from "../helpers/etcd-server.js";
import { makeCertificates } from "../helpers/test-certificates.js";

let dir = "";
let etcd: RunningEtcd;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "etcd-tls-"));
  // etcd's gateway dials etcd's own gRPC with the server certificate: it allows clientAuth too.
  const certificates = await makeCertificates(dir);
  etcd = await startEtcd({ certFile: certificates.serverCertFile, keyFile: certificates.serverKeyFile, caFile: certificates.caFile });
}, 60_000);

afterAll(async () => {
  await etcd?.stop();
  await rm(dir, { recursive: true, force: true });
});

const tlsOptions = () => ({
  address: etcd.endpoint,
  tls_ca_file: join(dir, "ca.crt"),
  tls_cert_file: join(dir, "client.crt"),
  tls_key_file: join(dir, "client.key"),
  request_timeout: "5s",
});

describe("etcd over TLS with client certificates (Node server)", () => {
  it("stores and lists through a client-certificate connection", async () => {
    const backend = await etcdNodeDriver.create({ ...tlsOptions(), path: "/tls/" }, {});
    await backend.put("a/b", new TextEncoder().encode("over tls"));
    expect(new TextDecoder().decode((await backend.get("a/b"))!)).toBe("over tls");
    expect(await backend.list("a/")).toEqual(["b"]);
  });

  it("fails clearly without a client certificate, or with unreadable or half-given files", async () => {
    const noClientCert = await etcdNodeDriver.create({ address: etcd.endpoint, tls_ca_file: join(dir, "ca.crt"), request_timeout: "3s" }, {});
    await expect(noClientCert.get("a/b")).rejects.toThrow(/no etcd address answered/);
    await expect(etcdNodeDriver.create({ ...tlsOptions(), tls_ca_file: join(dir, "missing.crt") }, {})).rejects.toThrow(
      /storage "etcd": tls_ca_file ".*missing.crt" cannot be read/,
    );
    await expect(etcdNodeDriver.create({ ...tlsOptions(), tls_key_file: "" }, {})).rejects.toThrow(/tls_cert_file and tls_key_file go together/);
  });
});

// etcd takes a client certificate's CN as the user and refuses passwords through the gateway then,
// so password authentication is tried on a plain etcd of its own (auth on would disturb the shared one).
describe("etcd username and password", () => {
  let plain: RunningEtcd;
  beforeAll(async () => {
    plain = await startEtcd();
  }, 60_000);
  afterAll(() => plain?.stop());

  it("authenticates once etcd's auth is on, and says so when the password is wrong", async () => {
    const gateway = async (path: string, body: unknown, token?: string) => {
      const response = await fetch(`${plain.endpoint}${path}`, { method: "POST", body: JSON.stringify(body), headers: token ? { authorization: token } : {} });
      const text = await response.text();
      if (response.status !== 200) throw new Error(text);
      return JSON.parse(text) as Record<string, unknown>;
    };
    await gateway("/v3/auth/user/add", { name: "root", password: "rootpw" });
    await gateway("/v3/auth/user/grant", { user: "root", role: "root" });
    await gateway("/v3/auth/enable", {});
    const options = { address: plain.endpoint, path: "/auth/" };
    const anonymous = await etcdNodeDriver.create(options, {});
    await expect(anonymous.get("k")).rejects.toThrow(/etcd: .*(user name is empty|permission denied)/);
    const withPassword = await etcdNodeDriver.create({ ...options, username: "root" }, { ETCD_PASSWORD: "rootpw" });
    await withPassword.put("k", new TextEncoder().encode("authenticated"));
    expect(new TextDecoder().decode((await withPassword.get("k"))!)).toBe("authenticated");
    const wrongPassword = await etcdNodeDriver.create({ ...options, username: "root", password: "nope" }, {});
    await expect(wrongPassword.get("k")).rejects.toThrow(/authentication failed/);
  });
});
