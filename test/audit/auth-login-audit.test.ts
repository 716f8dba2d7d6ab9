import { describe, expect, it } from "vitest";
import { recordingDevice, serverWithAuditSink } from "../helpers/audited-server.js";
import { issue } from "../helpers/test-pki.js";

/** Login requests of the aws and cert methods reach the audit log with every request field hashed. */
describe("audit entries of aws and cert logins", () => {
  it("hashes the cert login's fields and the aws login's signed request; the token's metadata stays readable", async () => {
    const { device, sink } = recordingDevice();
    const { app, call, root } = await serverWithAuditSink(sink);
    expect((await call("PUT", "sys/audit/file", { type: "file", options: { file_path: "/dev/null" } }, root)).status).toBe(204);
    const ca = await issue({ subject: "CN=Audit CA", ca: true });
    const leaf = await issue({ subject: "CN=audited.example.com", issuer: ca });
    await call("POST", "sys/auth/cert", { type: "cert" }, root);
    await call("POST", "auth/cert/certs/audited", { certificate: ca.pem }, root);
    const login = await app.fetch(new Request("http://strongbox.test/v1/auth/cert/login", { method: "POST", body: JSON.stringify({ name: "audited" }) }), {
      clientAddress: "192.0.2.7",
      clientCertificates: [leaf.der],
    });
    expect(login.status).toBe(200);

    await call("POST", "sys/auth/aws", { type: "aws" }, root);
    // Nothing listens on port 9: the login fails at STS, after its request entry is written.
    await call("POST", "auth/aws/config/client", { sts_endpoint: "http://127.0.0.1:9" }, root);
    const signedHeaders = JSON.stringify({
      Authorization: ["AWS4-HMAC-SHA256 Credential=AKIAAUDIT/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcdef0123"],
      "X-Amz-Date": ["20260101T000000Z"],
    });
    const awsFields = {
      role: "dev",
      iam_http_request_method: "POST",
      iam_request_url: Buffer.from("https://sts.amazonaws.com/").toString("base64"),
      iam_request_body: Buffer.from("Action=GetCallerIdentity&Version=2011-06-15").toString("base64"),
      iam_request_headers: Buffer.from(signedHeaders).toString("base64"),
    };
    expect((await call("POST", "auth/aws/login", awsFields)).status).toBe(400);

    const entries = device.entries();
    const certRequest = entries.find((entry) => entry.type === "request" && entry.request.path === "auth/cert/login");
    expect(certRequest.request.data.name).toMatch(/^hmac-sha256:/);
    const certResponse = entries.find((entry) => entry.type === "response" && entry.request.path === "auth/cert/login");
    expect(certResponse.response.auth.metadata).toMatchObject({ cert_name: "audited", common_name: "audited.example.com" });
    expect(certResponse.response.auth.client_token).toMatch(/^hmac-sha256:/);
    const awsRequest = entries.find((entry) => entry.type === "request" && entry.request.path === "auth/aws/login");
    for (const field of Object.keys(awsFields)) expect(awsRequest.request.data[field]).toMatch(/^hmac-sha256:/);
    const log = device.lines.join("\n");
    expect(log).not.toContain(awsFields.iam_request_headers);
    expect(log).not.toContain("Signature=abcdef0123");
  });
});
