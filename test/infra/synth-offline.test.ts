/**
 * `cdk synth` as an operator runs it on a laptop before any AWS credentials exist: the real CLI and
 * app (infra/cdk/cdk.json), no credentials, no instance metadata, and context lookups forbidden
 * (`--no-lookups` fails the synth if the app would need one).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";
import { type Json, resourcesOfType } from "./template.js";

const CDK = resolve("node_modules/.bin/cdk");
/** Compiling the app and loading aws-cdk-lib take a minute on a loaded machine. */
const SYNTH_LIMIT_MS = 300_000;

const home = mkdtempSync(join(tmpdir(), "strongbox-synth-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function synth(context: string[]): Promise<{ status: number; stderr: string; outdir: string }> {
  const outdir = join(home, "cdk.out");
  const env = {
    PATH: process.env.PATH,
    HOME: home,
    AWS_CONFIG_FILE: join(home, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "no-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_REGION: "eu-west-1",
    npm_config_update_notifier: "false",
  };
  const args = ["synth", "--no-lookups", "--no-notices", "--quiet", "-o", outdir, ...context.flatMap((entry) => ["-c", entry])];
  return new Promise((done) => {
    execFile(CDK, args, { cwd: "infra/cdk", env, timeout: SYNTH_LIMIT_MS }, (error, _stdout, stderr) =>
      done({ status: error ? Number(error.code) : 0, stderr, outdir }),
    );
  });
}

it("synthesises without AWS credentials or lookups, its zones left to CloudFormation", { timeout: SYNTH_LIMIT_MS + 10_000 }, async () => {
  const result = await synth([
    "domainName=vault.example.com",
    "tlsSecretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls-Ab12Cd",
    "image=public.ecr.aws/example/strongbox:1.0.0",
  ]);
  expect(result.stderr).not.toMatch(/Error/);
  expect(result.status).toBe(0);
  const template = JSON.parse(readFileSync(join(result.outdir, "Strongbox.template.json"), "utf8")) as Json;
  const zones = resourcesOfType(template, "AWS::EC2::Subnet").map((subnet) => subnet.Properties.AvailabilityZone);
  expect(new Set(zones.map((zone) => JSON.stringify(zone)))).toEqual(
    new Set([0, 1, 2].map((i) => JSON.stringify({ "Fn::Select": [i, { "Fn::GetAZs": "" }] }))),
  );
  // The region comes from the environment (deploy.sh insists on one); the account is not needed.
  const [task] = resourcesOfType(template, "AWS::ECS::TaskDefinition");
  expect((task!.Properties.ContainerDefinitions[0].Environment as Json[]).find((e) => e.Name === "AWS_REGION")!.Value).toBe("eu-west-1");
});
