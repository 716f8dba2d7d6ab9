/**
 * infra/deploy.sh and destroy.sh stop before `cdk` with a clear reason when a prerequisite is
 * missing, and say what to do after a deploy; infra/edge-config.sh configures the edge Worker from
 * the stack's outputs. Stub `aws`, `docker` and `npx` commands stand in for the real ones and log
 * their calls; nothing reaches AWS or Cloudflare.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const EDGE_KEY = '{"AWS_ACCESS_KEY_ID":"AKIAEXAMPLE","AWS_SECRET_ACCESS_KEY":"edge-secret"}';
const STUB_AWS = `#!/bin/sh
echo "aws $*" >>"$STUB_LOG"
case "$1 $2" in
  "secretsmanager get-secret-value") echo '${EDGE_KEY}'; exit 0 ;;
  "sts get-caller-identity")
    [ -n "$STUB_ACCOUNT" ] && { echo "$STUB_ACCOUNT"; exit 0; }
    echo 'Unable to locate credentials. You can configure credentials by running "aws configure".' >&2; exit 255 ;;
  "configure get") [ -n "$STUB_PROFILE_REGION" ] && { echo "$STUB_PROFILE_REGION"; exit 0; }; exit 1 ;;
  "cloudformation describe-stacks") [ -n "$STUB_BOOTSTRAPPED" ] && exit 0
    echo "An error occurred (ValidationError) when calling the DescribeStacks operation: Stack with id $4 does not exist" >&2; exit 254 ;;
  "cloudformation describe-stack-resources")
    echo "An error occurred (ValidationError) when calling the DescribeStackResources operation: Stack with id $4 does not exist" >&2; exit 254 ;;
esac
exit 2
`;
/** Logs each call with what came on stdin; \`cdk deploy\` writes $STUB_OUTPUTS where its --outputs-file says. */
const STUB_NPX = `#!/bin/sh
if [ "$1 $2" = "cdk deploy" ] && [ "$3" = "--outputs-file" ] && [ -n "$STUB_OUTPUTS" ]; then printf '%s' "$STUB_OUTPUTS" >"$4"; fi
if [ "$2 $3" = "secret bulk" ]; then echo "npx $* <<< $(cat)" >>"$STUB_LOG"; else echo "npx $*" >>"$STUB_LOG"; fi
`;
const STUB_DOCKER = `#!/bin/sh
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
`;

let bin: string;
let withoutTools: string;

beforeAll(() => {
  // Two PATHs: the bare tools the scripts need, with or without the stub aws and docker.
  withoutTools = mkdtempSync(join(tmpdir(), "strongbox-scripts-"));
  for (const tool of ["node", "dirname", "basename", "cat", "grep"]) {
    const found = tool === "node" ? process.execPath : [`/usr/bin/${tool}`, `/bin/${tool}`].find((path) => existsSync(path));
    symlinkSync(found!, join(withoutTools, tool));
  }
  bin = mkdtempSync(join(tmpdir(), "strongbox-stubs-"));
  writeFileSync(join(bin, "aws"), STUB_AWS);
  writeFileSync(join(bin, "docker"), STUB_DOCKER);
  writeFileSync(join(bin, "npx"), STUB_NPX);
  for (const stub of ["aws", "docker", "npx"]) chmodSync(join(bin, stub), 0o755);
});

afterAll(() => {
  rmSync(bin, { recursive: true, force: true });
  rmSync(withoutTools, { recursive: true, force: true });
});

function run(script: string, args: string[], env: Record<string, string>, stubs = true) {
  return new Promise<{ status: number; stderr: string; stdout: string }>((done) => {
    const environment = { PATH: stubs ? `${bin}:${withoutTools}` : withoutTools, HOME: withoutTools, STUB_LOG: join(bin, "calls.log"), ...env };
    execFile("/bin/bash", [resolve("infra", script), ...args], { env: environment }, (error, stdout, stderr) =>
      done({ status: error ? Number(error.code) : 0, stderr, stdout }),
    );
  });
}

/** The stub commands' calls so far, and a fresh log. */
function calls(): string[] {
  const log = join(bin, "calls.log");
  if (!existsSync(log)) return [];
  const lines = readFileSync(log, "utf8").trim().split("\n");
  rmSync(log);
  return lines;
}

const READY = { STUB_ACCOUNT: "111122223333", AWS_REGION: "eu-west-1" };

it("needs the AWS CLI", async () => {
  const result = await run("deploy.sh", [], READY, false);
  expect(result).toMatchObject({ status: 1, stderr: expect.stringContaining("deploy.sh: the AWS CLI is not installed") });
});

it("needs working AWS credentials, and says how to get them", async () => {
  const result = await run("deploy.sh", [], { AWS_REGION: "eu-west-1" });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain("deploy.sh: no usable AWS credentials: Unable to locate credentials.");
  expect(result.stderr).toContain("aws sso login");
});

it("needs a region, from the environment or the profile", async () => {
  expect((await run("deploy.sh", [], { STUB_ACCOUNT: "111122223333" })).stderr).toContain("deploy.sh: no AWS region: set AWS_REGION");
  // Found in the profile, it gets as far as the Docker check.
  const fromProfile = await run("deploy.sh", [], { STUB_ACCOUNT: "111122223333", STUB_PROFILE_REGION: "eu-west-1" });
  expect(fromProfile.stderr).toContain("Docker is installed but not running");
});

it("needs a running Docker to build the image, unless a prebuilt image is given", async () => {
  const result = await run("deploy.sh", [], READY);
  expect(result).toMatchObject({ status: 1, stderr: expect.stringContaining("deploy.sh: Docker is installed but not running") });
  const prebuilt = await run("deploy.sh", ["-c", "image=public.ecr.aws/example/strongbox:1.0.0"], READY);
  expect(prebuilt.stderr).not.toContain("Docker");
  expect(prebuilt.stderr).toContain("account 111122223333 is not bootstrapped for the CDK in eu-west-1");
  expect(prebuilt.stderr).toContain("npx cdk bootstrap aws://111122223333/eu-west-1");
});

it("destroy names the stack it cannot find", async () => {
  const result = await run("destroy.sh", ["-c", "stackName=Vault"], READY);
  expect(result.status).toBe(1);
  expect(result.stderr).toContain("destroy.sh: cannot read stack Vault in eu-west-1: An error occurred (ValidationError)");
});

it("deploys with the outputs written for edge-config.sh, then gives the auto-unseal next steps", async () => {
  const outputsFile = resolve("infra/cdk/outputs.json");
  const kept = existsSync(outputsFile) ? `${outputsFile}.kept-by-test` : undefined;
  if (kept) renameSync(outputsFile, kept);
  try {
    calls();
    const outputs = { Strongbox: { ApiUrl: "https://vault.example.com:8200" } };
    const image = "image=public.ecr.aws/example/strongbox:1.0.0";
    const result = await run("deploy.sh", ["-c", image], { ...READY, STUB_BOOTSTRAPPED: "1", STUB_OUTPUTS: JSON.stringify(outputs) });
    expect(result.status).toBe(0);
    expect(calls().filter((call) => call.startsWith("npx"))).toEqual([`npx cdk deploy --outputs-file outputs.json -c ${image}`]);
    expect(result.stdout).toContain("VAULT_ADDR=https://vault.example.com:8200 strongbox operator init -recovery-shares=5 -recovery-threshold=3");
    expect(result.stdout).toContain("--parameters ClusterInitialized=true");
    expect(result.stdout).toContain("infra/edge-config.sh");
    expect(result.stdout).not.toMatch(/unseal every task|operator unseal/);
  } finally {
    rmSync(outputsFile, { force: true });
    if (kept) renameSync(kept, outputsFile);
  }
});

describe("edge-config.sh", () => {
  const stack = "EdgeConfigTest";
  const config = resolve(`wrangler.${stack}.toml`);
  let outputsFile: string;

  beforeAll(() => {
    outputsFile = join(mkdtempSync(join(tmpdir(), "strongbox-outputs-")), "outputs.json");
  });
  afterAll(() => rmSync(config, { force: true }));

  it("writes the Worker's table and region, deploys it, and pipes the reader's key from Secrets Manager into its secrets", async () => {
    const secretArn = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:EdgeLockReaderCredentials-Ab12Cd";
    writeFileSync(outputsFile, JSON.stringify({ [stack]: { TableName: "Strongbox-LockTable-1A2B3C", Region: "eu-west-1", EdgeReaderSecretArn: secretArn } }));
    calls();
    const result = await run("edge-config.sh", [outputsFile, stack], {});
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);

    const base = readFileSync("wrangler.toml", "utf8");
    const written = readFileSync(config, "utf8");
    expect(written).toMatch(/^# Written by infra\/edge-config.sh/);
    expect(written).toMatch(/^AWS_DYNAMODB_TABLE = "Strongbox-LockTable-1A2B3C"$/m);
    expect(written).toMatch(/^AWS_REGION = "eu-west-1"$/m);
    // Everything else as in wrangler.toml.
    const unchanged = (text: string) => text.split("\n").filter((line) => !/^(#|AWS_DYNAMODB_TABLE|AWS_REGION)/.test(line));
    expect(unchanged(written)).toEqual(unchanged(base));
    expect(written).not.toContain("edge-secret");

    expect(calls()).toEqual([
      `npx wrangler deploy --config ${config}`,
      `aws secretsmanager get-secret-value --region eu-west-1 --secret-id ${secretArn} --query SecretString --output text`,
      `npx wrangler secret bulk --config ${config} <<< ${EDGE_KEY}`,
    ]);
  });

  it("says what is missing: the outputs, or the edge reader", async () => {
    const missing = await run("edge-config.sh", [join(tmpdir(), "no-such-outputs.json"), stack], {});
    expect(missing).toMatchObject({ status: 1, stderr: expect.stringContaining("edge-config.sh: no stack outputs at") });
    writeFileSync(outputsFile, JSON.stringify({ [stack]: { TableName: "t", Region: "eu-west-1" } }));
    const noReader = await run("edge-config.sh", [outputsFile, stack], {});
    expect(noReader).toMatchObject({ status: 1, stderr: `edge-config.sh: Error: stack ${stack} has no edge reader: deploy it with -c edgeReader=true\n` });
    const otherStack = await run("edge-config.sh", [outputsFile, "Other"], {});
    expect(otherStack.stderr).toContain("has no outputs for stack Other");
  });
});
