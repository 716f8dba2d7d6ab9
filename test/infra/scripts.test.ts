/**
 * infra/deploy.sh and destroy.sh stop before `cdk` with a clear reason when a prerequisite is
 * missing. Stub `aws` and `docker` commands stand in for the real ones; nothing reaches AWS.
 */
import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";

const STUB_AWS = `#!/bin/sh
case "$1 $2" in
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
const STUB_DOCKER = `#!/bin/sh
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2
exit 1
`;

let bin: string;
let withoutTools: string;

beforeAll(() => {
  // Two PATHs: the bare tools the scripts need, with or without the stub aws and docker.
  withoutTools = mkdtempSync(join(tmpdir(), "strongbox-scripts-"));
  for (const tool of ["node", "dirname", "basename", "cat"]) {
    const found = tool === "node" ? process.execPath : [`/usr/bin/${tool}`, `/bin/${tool}`].find((path) => existsSync(path));
    symlinkSync(found!, join(withoutTools, tool));
  }
  bin = mkdtempSync(join(tmpdir(), "strongbox-stubs-"));
  writeFileSync(join(bin, "aws"), STUB_AWS);
  writeFileSync(join(bin, "docker"), STUB_DOCKER);
  chmodSync(join(bin, "aws"), 0o755);
  chmodSync(join(bin, "docker"), 0o755);
});

afterAll(() => {
  rmSync(bin, { recursive: true, force: true });
  rmSync(withoutTools, { recursive: true, force: true });
});

function run(script: string, args: string[], env: Record<string, string>, stubs = true) {
  return new Promise<{ status: number; stderr: string }>((done) => {
    execFile("/bin/bash", [resolve("infra", script), ...args], { env: { PATH: stubs ? `${bin}:${withoutTools}` : withoutTools, HOME: withoutTools, ...env } }, (error, _stdout, stderr) =>
      done({ status: error ? Number(error.code) : 0, stderr }),
    );
  });
}

const READY = { STUB_ACCOUNT: "111122223333", AWS_REGION: "eu-west-1" };

it("needs the AWS CLI", async () => {
  const result = await run("deploy.sh", [], READY, false);
  expect(result).toEqual({ status: 1, stderr: expect.stringContaining("deploy.sh: the AWS CLI is not installed") });
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
  expect(result).toEqual({ status: 1, stderr: expect.stringContaining("deploy.sh: Docker is installed but not running") });
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
