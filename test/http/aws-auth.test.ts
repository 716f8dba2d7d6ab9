import { beforeAll, describe, expect, it } from "vitest";
import { createAssumedRole, createIamUser, type IamPrincipal, signedLoginFields } from "../helpers/aws-iam-login.js";
import { type InProcessServer, type Json, PERMISSION_DENIED, unsealedServer } from "../helpers/in-process-server.js";
import { kmsEndpoint } from "../helpers/kms.js";

/**
 * The aws auth method's IAM login against a real STS implementation: moto's server (the store
 * tier's) answers GetCallerIdentity for the signing credentials and IAM's GetUser/GetRole. Requests
 * are signed with @smithy/signature-v4 as an AWS SDK signs them.
 */
describe("aws auth method, IAM login (against moto's STS and IAM)", () => {
  const SERVER_ID = "vault.example.com";
  let server: InProcessServer;
  let moto: string;
  let alice: IamPrincipal;
  let bob: IamPrincipal;
  let app: Awaited<ReturnType<typeof createAssumedRole>>;
  const suffix = Math.random().toString(36).slice(2, 8);

  const login = async (fields: Json) => server.call("POST", "auth/aws/login", fields);
  const expectRefused = (answer: { status: number; body: Json }, status: number, error: string | RegExp) => {
    expect(answer.status, JSON.stringify(answer.body)).toBe(status);
    expect(answer.body.auth).toBeUndefined();
    if (typeof error === "string") expect(answer.body.errors).toEqual([error]);
    else expect(answer.body.errors[0]).toMatch(error);
  };

  beforeAll(async () => {
    moto = kmsEndpoint();
    alice = await createIamUser(moto, `alice-${suffix}`, "/team/");
    bob = await createIamUser(moto, `bob-${suffix}`);
    app = await createAssumedRole(moto, `app-${suffix}`, "session-1");
    server = await unsealedServer();
    const { call, root, writePolicy } = server;
    expect((await call("POST", "sys/auth/aws", { type: "aws" }, root)).status).toBe(204);
    const configured = await call(
      "POST",
      "auth/aws/config/client",
      { sts_endpoint: moto, iam_endpoint: moto, access_key: "test", secret_key: "test", iam_server_id_header_value: SERVER_ID },
      root,
    );
    expect(configured.status, JSON.stringify(configured.body)).toBe(204);
    expect((await call("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } }, root)).status).toBe(204);
    await call("POST", "secret/data/dev/config", { data: { db: "dev-db" } }, root);
    await call("POST", "secret/data/prod/config", { data: { db: "prod-db" } }, root);
    await writePolicy("dev-read", 'path "secret/data/dev/*" { capabilities = ["read"] }');
  });

  it("logs in a user bound by exact ARN (unique ID resolved in IAM); the token has Vault's metadata and only its policy's access", async () => {
    const { call, root } = server;
    const written = await call(
      "POST",
      "auth/aws/role/dev",
      { auth_type: "iam", bound_iam_principal_arn: alice.arn, token_policies: "dev-read", token_ttl: "30m" },
      root,
    );
    expect(written.status, JSON.stringify(written.body)).toBe(204);
    const role = (await call("GET", "auth/aws/role/dev", undefined, root)).body.data;
    expect(role).toMatchObject({
      auth_type: "iam",
      bound_iam_principal_arn: [alice.arn],
      bound_iam_principal_id: [alice.uniqueId],
      resolve_aws_unique_ids: true,
    });

    const answer = await login({ role: "dev", ...(await signedLoginFields(alice.credentials, { stsUrl: moto, serverId: SERVER_ID })) });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const auth = answer.body.auth;
    expect(auth.policies).toEqual(["default", "dev-read"]);
    expect(auth.lease_duration).toBe(1800);
    expect(auth.metadata).toEqual({
      account_id: "123456789012",
      auth_type: "iam",
      canonical_arn: `arn:aws:iam::123456789012:user/alice-${suffix}`,
      client_arn: alice.arn,
      client_user_id: alice.uniqueId,
      inferred_aws_region: "",
      inferred_entity_id: "",
      inferred_entity_type: "",
      role: "dev",
      role_id: role.role_id,
    });
    expect((await call("GET", "auth/token/lookup-self", undefined, auth.client_token)).body.data.display_name).toBe(`aws-alice-${suffix}`);
    expect((await call("GET", "secret/data/dev/config", undefined, auth.client_token)).body.data.data).toEqual({ db: "dev-db" });
    expect(await call("GET", "secret/data/prod/config", undefined, auth.client_token)).toEqual({ status: 403, body: PERMISSION_DENIED });
  });

  it("matches a bound ARN ending in a wildcard against the caller's full ARN, path included", async () => {
    const { call, root } = server;
    await call("POST", "auth/aws/role/team", { bound_iam_principal_arn: "arn:aws:iam::123456789012:user/team/*", token_policies: "dev-read" }, root);
    const answer = await login({ role: "team", ...(await signedLoginFields(alice.credentials, { stsUrl: moto, serverId: SERVER_ID })) });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expectRefused(
      await login({ role: "team", ...(await signedLoginFields(bob.credentials, { stsUrl: moto, serverId: SERVER_ID })) }),
      400,
      `IAM Principal "${bob.arn}" does not belong to the role "team"`,
    );
  });

  it("logs in an assumed role by its role ARN, taking the role name from the caller when none is given", async () => {
    const { call, root } = server;
    await call(
      "POST",
      `auth/aws/role/app-${suffix}`,
      { bound_iam_principal_arn: app.roleArn, resolve_aws_unique_ids: false, token_policies: "dev-read" },
      root,
    );
    const answer = await login(await signedLoginFields(app.credentials, { stsUrl: moto, serverId: SERVER_ID }));
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.auth.metadata).toMatchObject({ client_arn: app.arn, canonical_arn: app.roleArn, client_user_id: app.uniqueId, role: `app-${suffix}` });
  });

  it("refuses a request signed for another server ID, without the ID signed, replayed with a changed body, not covering its host, or for an unbound principal", async () => {
    const { call, root } = server;
    await call("POST", "auth/aws/role/dev", { bound_iam_principal_arn: alice.arn, token_policies: "dev-read" }, root);
    const sign = (options: Partial<Parameters<typeof signedLoginFields>[1]> = {}) =>
      signedLoginFields(alice.credentials, { stsUrl: moto, serverId: SERVER_ID, ...options });
    expectRefused(
      await login({ role: "dev", ...(await sign({ serverId: "other.example.com" })) }),
      400,
      `error validating X-Vault-AWS-IAM-Server-ID header: expected "${SERVER_ID}" but got "other.example.com"`,
    );
    expectRefused(
      await login({ role: "dev", ...(await sign({ serverId: undefined })) }),
      400,
      'error validating X-Vault-AWS-IAM-Server-ID header: missing header "X-Vault-AWS-IAM-Server-ID"',
    );
    expectRefused(
      await login({ role: "dev", ...(await sign({ serverIdUnsigned: true })) }),
      400,
      "error validating X-Vault-AWS-IAM-Server-ID header: vault header wasn't signed",
    );
    const replayed = { ...(await sign()), iam_request_body: Buffer.from("Action=GetCallerIdentity&Version=2011-06-16").toString("base64") };
    expectRefused(await login({ role: "dev", ...replayed }), 400, /does not match the body the request was signed with/);
    const widened = { ...(await sign()), iam_request_body: Buffer.from("Action=GetCallerIdentity&Version=2011-06-15&Action=ListUsers").toString("base64") };
    expectRefused(await login({ role: "dev", ...widened }), 400, "iam request body is invalid");
    const signed = await sign();
    const headers = JSON.parse(Buffer.from(signed.iam_request_headers!, "base64").toString());
    headers.authorization = [headers.authorization[0].replace(/(SignedHeaders=[^,]*?)\bhost;/, "$1")];
    const hostUnsigned = { ...signed, iam_request_headers: Buffer.from(JSON.stringify(headers)).toString("base64") };
    expectRefused(await login({ role: "dev", ...hostUnsigned }), 400, "the iam request's signature does not cover the host header");
    expectRefused(
      await login({ role: "dev", ...(await signedLoginFields(bob.credentials, { stsUrl: moto, serverId: SERVER_ID })) }),
      400,
      `IAM Principal "${bob.arn}" does not belong to the role "dev"`,
    );
    expectRefused(await login({ role: "nope", ...(await sign()) }), 400, "entry for role nope not found");
  });

  it("refuses a caller STS does not know (a forged key) with STS's answer", async () => {
    const forged = await signedLoginFields({ accessKeyId: "AKIAFORGED000000", secretAccessKey: "x" }, { stsUrl: moto, serverId: SERVER_ID });
    const answer = await login({ role: "dev", ...forged });
    expect(answer.status).toBe(400);
    expect(answer.body.auth).toBeUndefined();
  });

  it("renews while the role exists and still binds the principal, as Vault re-checks", async () => {
    const { call, root } = server;
    await call("POST", "auth/aws/role/renewing", { bound_iam_principal_arn: alice.arn, token_policies: "dev-read", token_ttl: "10m" }, root);
    const answer = await login({ role: "renewing", ...(await signedLoginFields(alice.credentials, { stsUrl: moto, serverId: SERVER_ID })) });
    const token = answer.body.auth.client_token;
    expect((await call("POST", "auth/token/renew-self", {}, token)).status).toBe(200);
    await call("POST", "auth/aws/role/renewing", { bound_iam_principal_arn: bob.arn }, root);
    expect((await call("POST", "auth/token/renew-self", {}, token)).body).toEqual({
      errors: [`role no longer bound to ARN "arn:aws:iam::123456789012:user/alice-${suffix}"`],
    });
    await call("POST", "auth/aws/role/renewing", { bound_iam_principal_arn: "arn:aws:iam::123456789012:user/team/*" }, root);
    expect((await call("POST", "auth/token/renew-self", {}, token)).status).toBe(200);
    await call("DELETE", "auth/aws/role/renewing", undefined, root);
    expect((await call("POST", "auth/token/renew-self", {}, token)).body).toEqual({ errors: ["role entry not found"] });
  });

  it("answers malformed login fields and role writes with Vault's 400s", async () => {
    const { call, root } = server;
    expectRefused(await login({}), 400, "didn't supply required authentication values");
    expectRefused(await login({ iam_http_request_method: "POST" }), 400, "supplied some of the auth values for the iam auth type but not all");
    expectRefused(await login({ pkcs7: "abc" }), 400, /EC2 login is not supported/);
    const fields = await signedLoginFields(alice.credentials, { stsUrl: moto, serverId: SERVER_ID });
    expectRefused(await login({ ...fields, iam_http_request_method: "GET" }), 400, "invalid iam_http_request_method; currently only 'POST' is supported");
    expectRefused(await login({ ...fields, iam_request_url: "%%%" }), 400, "failed to base64 decode iam_request_url");
    expectRefused(await login({ ...fields, iam_request_headers: "bm90IGpzb24=" }), 400, /invalid iam_request_headers/);
    expectRefused(await login({ ...fields, iam_request_headers: { "X-Evil": ["1"], Authorization: ["x"] } }), 400, /X-Vault-AWS-IAM-Server-ID/);
    expect((await call("POST", "auth/aws/role/empty", {}, root)).body).toEqual({ errors: ["at least one bound parameter should be specified on the role"] });
    expect((await call("POST", "auth/aws/role/x", { bound_iam_principal_arn: "arn:aws:iam::1:user/*/x" }, root)).status).toBe(400);
    expect((await call("POST", "auth/aws/role/x", { bound_iam_principal_arn: "arn:aws:iam::123456789012:user/nobody" }, root)).body.errors[0]).toMatch(
      /^unable to resolve ARN "arn:aws:iam::123456789012:user\/nobody" to internal ID/,
    );
    expect((await call("POST", "auth/aws/role/ec2", { auth_type: "ec2", bound_ami_id: "ami-123" }, root)).status).toBe(204);
    expect((await call("POST", "auth/aws/role/ec2", { auth_type: "iam", bound_iam_principal_arn: alice.arn }, root)).body).toEqual({
      errors: ["changing auth_type not allowed"],
    });
    expect((await call("POST", "auth/aws/config/identity", { iam_alias: "nonsense" }, root)).status).toBe(400);
    const client = (await call("GET", "auth/aws/config/client", undefined, root)).body.data;
    expect(client).toMatchObject({ sts_endpoint: moto, access_key: "test", iam_server_id_header_value: SERVER_ID, use_sts_region_from_client: false });
    expect(client.secret_key).toBeUndefined();
  });
});
