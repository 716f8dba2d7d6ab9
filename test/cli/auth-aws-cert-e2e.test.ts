/**
 * The aws and cert auth methods end to end: a 2-node cluster (S3 data, DynamoDB lock) whose nodes
 * also serve a TLS listener; cert logins over real TLS handshakes, on the active and forwarded by
 * the standby; IAM logins signed by the CLI (AWS SDK credential chain) and by hvac, verified through
 * moto's STS; each token then reading what its policy allows and refused what it does not.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createIamUser, type IamPrincipal } from "../helpers/aws-iam-login.js";
import { api, type Cluster, type ClusterNode, startCluster } from "../helpers/cluster.js";
import { freeFixedPort, freePort } from "../helpers/free-port.js";
import { runHvac } from "../helpers/hvac.js";
import { kmsEndpoint } from "../helpers/kms.js";
import { rawRequest } from "../helpers/raw-client.js";
import { runCli } from "../helpers/server-process.js";
import { makeCertificates, type TestCertificates } from "../helpers/test-certificates.js";
import { type Issued, issue } from "../helpers/test-pki.js";

const SERVER_ID = "strongbox.test";
const PERMISSION_DENIED = ["1 error occurred:\n\t* permission denied\n\n"];

describe("aws and cert logins end to end (TLS listeners, a forwarding standby, the CLI, hvac)", () => {
  let dir: string;
  let cluster: Cluster;
  let active: ClusterNode;
  let standby: ClusterNode;
  let serverCerts: TestCertificates;
  let clientCa: Issued;
  let client: Issued;
  let moto: string;
  let alice: IamPrincipal;
  let bob: IamPrincipal;
  const tlsPorts: number[] = [];
  const files = { cert: "", key: "", clientCa: "" };

  const tlsLogin = (node: ClusterNode, options: { withCert: boolean; headers?: Record<string, string> }) =>
    rawRequest({
      port: tlsPorts[node.index]!,
      method: "POST",
      path: "/v1/auth/cert/login",
      body: {},
      headers: options.headers,
      tls: { ca: readFileSync(serverCerts.caFile), host: "127.0.0.1", ...(options.withCert && { cert: client.pem, key: client.keyPem }) },
    });

  /** The token reads the path its policy allows and is refused the other. */
  const expectScopedReads = async (token: string) => {
    const allowed = await api(active, "GET", "secret/data/app/config", undefined, token);
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(200);
    expect(allowed.body.data.data).toEqual({ db: "app-db" });
    const denied = await api(active, "GET", "secret/data/admin/config", undefined, token);
    expect(denied).toMatchObject({ status: 403, body: { errors: PERMISSION_DENIED } });
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "strongbox-awscert-"));
    serverCerts = await makeCertificates(dir);
    clientCa = await issue({ subject: "CN=Client CA", ca: true });
    client = await issue({ subject: "CN=web.example.com", issuer: clientCa, sans: [{ type: "dns", value: "web.example.com" }] });
    files.cert = join(dir, "client.pem");
    files.key = join(dir, "client-key.pem");
    // hvac reads a role's certificate from a file (it tries the argument as a path first).
    files.clientCa = join(dir, "client-ca.pem");
    writeFileSync(files.clientCa, clientCa.pem);
    writeFileSync(files.cert, client.pem);
    writeFileSync(files.key, client.keyPem, { mode: 0o600 });
    moto = kmsEndpoint();
    const suffix = Math.random().toString(36).slice(2, 8);
    alice = await createIamUser(moto, `e2e-alice-${suffix}`);
    bob = await createIamUser(moto, `e2e-bob-${suffix}`);

    for (let i = 0; i < 2; i++) tlsPorts.push(await freePort());
    const tlsClusterPorts = [await freeFixedPort(), await freeFixedPort()];
    cluster = await startCluster(
      { dynamodbEndpoint: inject("dynamodbEndpoint"), s3Endpoint: inject("s3Endpoint"), s3Bucket: inject("s3Bucket") },
      {
        size: 2,
        nodeSetup: ({ index }) => ({
          nodeConfig: `listener "tcp" {
  address         = "127.0.0.1:${tlsPorts[index]}"
  cluster_address = "127.0.0.1:${tlsClusterPorts[index]}"
  tls_cert_file   = "${serverCerts.serverCertFile}"
  tls_key_file    = "${serverCerts.serverKeyFile}"
}`,
        }),
      },
    );
    active = await cluster.waitForActive();
    standby = cluster.nodes.find((node) => node !== active)!;
    const root = cluster.rootToken;
    const setup = async (method: string, path: string, body: unknown) => {
      const answer = await api(active, method, path, body, root);
      expect(answer.status, `${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
    };
    await setup("POST", "sys/mounts/secret", { type: "kv", options: { version: "2" } });
    await setup("POST", "secret/data/app/config", { data: { db: "app-db" } });
    await setup("POST", "secret/data/admin/config", { data: { key: "hidden" } });
    await setup("PUT", "sys/policies/acl/app-read", { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' });
    await setup("POST", "sys/auth/cert", { type: "cert" });
    await setup("POST", "auth/cert/certs/web", { certificate: clientCa.pem, allowed_dns_sans: "web.example.com", token_policies: "app-read" });
    await setup("POST", "sys/auth/aws", { type: "aws" });
    await setup("POST", "auth/aws/config/client", {
      sts_endpoint: moto,
      iam_endpoint: moto,
      access_key: "test",
      secret_key: "test",
      iam_server_id_header_value: SERVER_ID,
    });
    await setup("POST", "auth/aws/role/app", { auth_type: "iam", bound_iam_principal_arn: alice.arn, token_policies: "app-read" });
  }, 180_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("logs in with a client certificate over the active's TLS listener", async () => {
    const answer = await tlsLogin(active, { withCert: true });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.auth.metadata).toMatchObject({ cert_name: "web", common_name: "web.example.com" });
    await expectScopedReads(answer.body.auth.client_token);
  });

  it("logs in through the standby, which forwards the chain its listener received", async () => {
    const answer = await tlsLogin(standby, { withCert: true });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.auth.metadata.serial_number).toBe(BigInt(`0x${client.certificate.serialNumber}`).toString());
    await expectScopedReads(answer.body.auth.client_token);
  });

  it("ignores a forwarded-certificate header sent by a client, on the active and through the standby", async () => {
    const forged = { "x-strongbox-forwarded-client-certificates": Buffer.from(client.der).toString("base64") };
    for (const node of [active, standby]) {
      const overTls = await tlsLogin(node, { withCert: false, headers: forged });
      expect(overTls).toEqual({ status: 400, body: { errors: ["client certificate must be supplied"] } });
      const plain = await rawRequest({ port: node.port, method: "POST", path: "/v1/auth/cert/login", body: {}, headers: forged });
      expect(plain).toEqual({ status: 400, body: { errors: ["client certificate must be supplied"] } });
    }
  });

  it("strongbox login -method=cert presents the client certificate", async () => {
    const result = await runCli(
      [
        "login",
        "-method=cert",
        `-address=https://127.0.0.1:${tlsPorts[standby.index]}`,
        `-ca-cert=${serverCerts.caFile}`,
        `-client-cert=${files.cert}`,
        `-client-key=${files.key}`,
        "-no-store",
        "-format=json",
        "name=web",
      ],
      { HOME: dir },
    );
    expect(result.code, result.stderr).toBe(0);
    const auth = JSON.parse(result.stdout).auth;
    expect(auth.policies).toEqual(["app-read", "default"]);
    await expectScopedReads(auth.client_token);
  });

  it("strongbox login -method=aws signs with the AWS credential chain; STS (moto) names the caller", async () => {
    const env = (principal: IamPrincipal) => ({
      HOME: dir,
      VAULT_ADDR: standby.apiAddr,
      AWS_ACCESS_KEY_ID: principal.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: principal.credentials.secretAccessKey,
      AWS_ENDPOINT_URL_STS: moto,
      AWS_EC2_METADATA_DISABLED: "true",
    });
    const args = ["login", "-method=aws", "-no-store", "-format=json", "role=app", `header_value=${SERVER_ID}`];
    const result = await runCli(args, env(alice));
    expect(result.code, result.stderr).toBe(0);
    const auth = JSON.parse(result.stdout).auth;
    expect(auth.metadata).toMatchObject({ client_arn: alice.arn, auth_type: "iam", role: "app" });
    await expectScopedReads(auth.client_token);

    const refused = await runCli(args, env(bob));
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`IAM Principal "${bob.arn}" does not belong to the role "app"`);
    const wrongServer = await runCli(["login", "-method=aws", "-no-store", "role=app", "header_value=elsewhere"], env(alice));
    expect(wrongServer.code).toBe(2);
    expect(wrongServer.stderr).toContain(`expected "${SERVER_ID}" but got "elsewhere"`);
  });

  it("hvac: configure, roles and logins of both methods, as its integration tests call them", async () => {
    const script = `
paths = ${JSON.stringify({ ca: serverCerts.caFile, cert: files.cert, key: files.key, clientCa: files.clientCa, tls: `https://127.0.0.1:${tlsPorts[active.index]}` })}
aws = client.auth.aws
aws.configure_identity_integration(iam_alias="full_arn")
identity = aws.read_identity_integration()
aws.create_role("hvac-role", auth_type="iam", bound_iam_principal_arn=[${JSON.stringify(alice.arn)}], policies=["app-read"], resolve_aws_unique_ids=False, ttl="10m")
login = aws.iam_login(${JSON.stringify(alice.credentials.accessKeyId)}, ${JSON.stringify(alice.credentials.secretAccessKey)}, header_value=${JSON.stringify(SERVER_ID)}, role="hvac-role", use_token=False)
aws_roles = aws.list_roles()["keys"]
role = aws.read_role("hvac-role")
aws.delete_role("hvac-role")
config = aws.read_config()
certs = client.auth.cert
certs.create_ca_certificate_role("hvac-cert", paths["clientCa"], allowed_common_names="web.example.com", token_policies=["app-read"])
certs.configure_tls_certificate(disable_binding=True)
read = certs.read_ca_certificate_role("hvac-cert")
tls = hvac.Client(url=paths["tls"], verify=paths["ca"])
cert = tls.auth.cert.login(name="hvac-cert", cert_pem=paths["cert"], key_pem=paths["key"], use_token=False)
names = certs.list_certificate_roles()["data"]["keys"]
certs.delete_certificate_role("hvac-cert")
print(json.dumps({"identity": identity, "aws": login["auth"], "aws_roles": aws_roles, "role": role, "config": config, "read": read["data"], "cert": cert["auth"], "names": names}))
`;
    const run = await runHvac(script, { VAULT_ADDR: active.apiAddr, VAULT_TOKEN: cluster.rootToken });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.identity).toMatchObject({ iam_alias: "full_arn" });
    expect(out.aws.metadata).toMatchObject({ client_arn: alice.arn, role: "hvac-role" });
    expect(out.aws.lease_duration).toBe(600);
    expect(out.aws_roles).toEqual(["app", "hvac-role"]);
    expect(out.role).toMatchObject({ auth_type: "iam", bound_iam_principal_arn: [alice.arn], resolve_aws_unique_ids: false, token_policies: ["app-read"] });
    expect(out.config).toMatchObject({ sts_endpoint: moto, iam_server_id_header_value: SERVER_ID });
    expect(out.read).toMatchObject({ allowed_common_names: ["web.example.com"], token_policies: ["app-read"] });
    expect(out.cert.metadata).toMatchObject({ cert_name: "hvac-cert", common_name: "web.example.com" });
    expect(out.names).toEqual(["hvac-cert", "web"]);
    await expectScopedReads(out.aws.client_token);
    await expectScopedReads(out.cert.client_token);
  });
});
