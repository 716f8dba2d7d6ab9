import { describe, expect, it } from "vitest";
import { AuditBroker } from "../../src/audit/broker.js";
import type { AuditSink } from "../../src/audit/sink.js";
import { Core } from "../../src/core.js";
import { createApp } from "../../src/http/app.js";
import { silentLogger } from "../../src/logger.js";
import { InmemBackend } from "../../src/physical/inmem.js";

/** A device whose sink keeps its lines, and refuses response lines while `refuseResponses` is set (a disk filling up between the two entries). */
function recordingDevice() {
  const device = { lines: [] as string[], refuseResponses: false };
  const sink: AuditSink = {
    write: async (line) => {
      if (device.refuseResponses && JSON.parse(line).type === "response") throw new Error("no space left on device");
      device.lines.push(line);
    },
    reopen: async () => {},
    close: async () => {},
  };
  return { device, sink };
}

/** An unsealed in-process server whose audit devices all write to `sink`. */
async function serverWithDevice(sink: AuditSink, allowPrefixing = false) {
  const broker = new AuditBroker({ file: () => sink }, silentLogger, undefined, allowPrefixing);
  const core = new Core({ physical: new InmemBackend(), storageType: "inmem", observability: { audit: broker } });
  const app = createApp({ core, maxRequestSize: Infinity });
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const response = await app.fetch(new Request(`http://strongbox.test/v1/${path}`, { method, headers: token ? { "x-vault-token": token } : {}, body: body === undefined ? undefined : JSON.stringify(body) }));
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null };
  };
  const init = await call("PUT", "sys/init", { secret_shares: 1, secret_threshold: 1 });
  await call("PUT", "sys/unseal", { key: init.body.keys_base64[0] });
  return { call, root: init.body.root_token as string };
}

describe("a response entry no device can write", () => {
  it("fails the request with a generic 500, as Vault does, though the operation has happened", async () => {
    const { device, sink } = recordingDevice();
    const { call, root } = await serverWithDevice(sink);
    expect((await call("PUT", "sys/audit/recorder", { type: "file", options: { file_path: "/unused" } }, root)).status).toBe(204);

    device.refuseResponses = true;
    const written = await call("PUT", "sys/policies/acl/unrecorded", { policy: 'path "x" { capabilities = ["read"] }' }, root);
    expect(written).toEqual({ status: 500, body: { errors: ["internal error"] } });
    const read = await call("GET", "sys/policies/acl/unrecorded", undefined, root);
    expect(read.status).toBe(500);
    expect(JSON.stringify(read.body)).not.toContain("capabilities");

    device.refuseResponses = false;
    expect((await call("GET", "sys/policies/acl/unrecorded", undefined, root)).status).toBe(200);
    const entries = device.lines.map((line) => JSON.parse(line));
    expect(entries.filter((entry) => entry.request.path === "sys/policies/acl/unrecorded").map((entry) => `${entry.type} ${entry.request.operation}`)).toEqual([
      "request update",
      "request read",
      "request read",
      "response read",
    ]);
  });
});

describe("allow_audit_log_prefixing", () => {
  it("lets a device write its prefix before every line only when the server configuration allows it", async () => {
    const { device, sink } = recordingDevice();
    const refused = await serverWithDevice(sink);
    const denied = await refused.call("PUT", "sys/audit/prefixed", { type: "file", options: { file_path: "/unused", prefix: "@cee: " } }, refused.root);
    expect(denied.status).toBe(400);
    expect(denied.body.errors[0]).toMatch(/^audit log prefixing is not allowed/);

    const allowed = await serverWithDevice(sink, true);
    expect((await allowed.call("PUT", "sys/audit/prefixed", { type: "file", options: { file_path: "/unused", prefix: "@cee: " } }, allowed.root)).status).toBe(204);
    await allowed.call("GET", "sys/mounts", undefined, allowed.root);
    expect(device.lines.length).toBeGreaterThanOrEqual(2);
    expect(device.lines.every((line) => line.startsWith('@cee: {"'))).toBe(true);
  });
});
