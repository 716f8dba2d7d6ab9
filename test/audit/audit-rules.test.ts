import { describe, expect, it } from "vitest";
import { recordingDevice, serverWithAuditSink } from "../helpers/audited-server.js";

describe("a response entry no device can write", () => {
  it("fails the request with a generic 500, as Vault does, though the operation has happened", async () => {
    const { device, sink } = recordingDevice();
    const { call, root } = await serverWithAuditSink(sink);
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
    const refused = await serverWithAuditSink(sink);
    const denied = await refused.call("PUT", "sys/audit/prefixed", { type: "file", options: { file_path: "/unused", prefix: "@cee: " } }, refused.root);
    expect(denied.status).toBe(400);
    expect(denied.body.errors[0]).toMatch(/^audit log prefixing is not allowed/);

    const allowed = await serverWithAuditSink(sink, { allowPrefixing: true });
    expect((await allowed.call("PUT", "sys/audit/prefixed", { type: "file", options: { file_path: "/unused", prefix: "@cee: " } }, allowed.root)).status).toBe(
      204,
    );
    await allowed.call("GET", "sys/mounts", undefined, allowed.root);
    expect(device.lines.length).toBeGreaterThanOrEqual(2);
    expect(device.lines.every((line) => line.startsWith('@cee: {"'))).toBe(true);
  });
});
