/**
 * The stack with every option set, synthesised once with the image built from source: synthesis
 * only stages the Docker build context (no Docker needed), which is checked here too.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { App, Stack } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import * as ecs from "aws-cdk-lib/aws-ecs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { strongboxImage } from "../../infra/cdk/image.js";
import { OptionError, readOptions } from "../../infra/cdk/options.js";
import { HEALTH_CHECK_PATH, StrongboxStack } from "../../infra/cdk/strongbox-stack.js";
import { type Json, onlyResource, referencedId, resourcesOfType, roleStatements, wildcardResourceStatements } from "./template.js";

const TLS_SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls-Ab12Cd";
const CONTEXT = {
  taskCount: "5",
  cpu: "1024",
  memoryMiB: "2048",
  vpcId: "vpc-0abc1234def567890",
  clientCidrs: "10.20.0.0/16, 192.168.1.0/24",
  internetFacing: "true",
  tlsSecretArn: TLS_SECRET,
  edgeReader: "true",
};

let outdir: string;
let template: Json;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "strongbox-cdk-"));
  const app = new App({ outdir, context: JSON.parse(readFileSync("infra/cdk/cdk.json", "utf8")).context });
  const { stackName, ...options } = readOptions((key) => (CONTEXT as Record<string, string>)[key]);
  const stack = new StrongboxStack(app, stackName, { ...options, env: { account: "111122223333", region: "eu-west-1" } });
  template = Template.fromStack(stack).toJSON();
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("context options", () => {
  it("reads -c strings and cdk.json values alike", () => {
    const { stackName, ...options } = readOptions((key) => (CONTEXT as Record<string, string>)[key]);
    expect(stackName).toBe("Strongbox");
    expect(options).toEqual({
      taskCount: 5,
      cpu: 1024,
      memoryMiB: 2048,
      vpcId: "vpc-0abc1234def567890",
      clientCidrs: ["10.20.0.0/16", "192.168.1.0/24"],
      internetFacing: true,
      tlsSecretArn: TLS_SECRET,
      edgeReader: true,
    });
    const typed: Record<string, unknown> = { stackName: "Vault", taskCount: 3, clientCidrs: ["10.0.0.0/8"], edgeReader: false };
    expect(readOptions((key) => typed[key])).toEqual({ stackName: "Vault", taskCount: 3, clientCidrs: ["10.0.0.0/8"], edgeReader: false });
    expect(readOptions(() => undefined)).toEqual({ stackName: "Strongbox" });
  });

  it("rejects bad values, naming the key and what is allowed", () => {
    const read = (key: string, value: unknown) => () => readOptions((k) => (k === key ? value : undefined));
    expect(read("taskCount", "three")).toThrow(OptionError);
    expect(read("taskCount", "0")).toThrow('context "taskCount" = "0" is not allowed: use a whole number from 1 to 10');
    expect(read("internetFacing", "yes")).toThrow("use true or false");
    expect(read("clientCidrs", "10.0.0.0")).toThrow('IPv4 CIDRs such as "10.0.0.0/16"');
    expect(read("vpcId", "my-vpc")).toThrow("a VPC id");
    // A partial ARN (no random suffix) would make ECS fail at task start, long after the deploy.
    expect(read("tlsSecretArn", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls")).toThrow("complete ARN");
  });
});

it("runs the requested number of tasks with the requested size", () => {
  expect(onlyResource(template, "AWS::ECS::Service").Properties.DesiredCount).toBe(5);
  expect(onlyResource(template, "AWS::ECS::TaskDefinition").Properties).toMatchObject({ Cpu: "1024", Memory: "2048" });
});

it("uses the existing VPC instead of creating one", () => {
  expect(resourcesOfType(template, "AWS::EC2::VPC")).toEqual([]);
  const group = onlyResource(template, "AWS::ElasticLoadBalancingV2::TargetGroup").Properties;
  // What Vpc.fromLookup answers offline, before `cdk deploy` has looked the VPC up.
  expect(group.VpcId).toBe("vpc-12345");
});

describe("TLS from Secrets Manager", () => {
  it("injects the certificate and key into the container from the secret's JSON fields", () => {
    const [container] = onlyResource(template, "AWS::ECS::TaskDefinition").Properties.ContainerDefinitions as Json[];
    expect(container!.Secrets).toEqual([
      { Name: "STRONGBOX_TLS_CERT", ValueFrom: `${TLS_SECRET}:certificate::` },
      { Name: "STRONGBOX_TLS_KEY", ValueFrom: `${TLS_SECRET}:private_key::` },
    ]);
  });

  it("lets only the execution role read that one secret", () => {
    const executionRole = referencedId(onlyResource(template, "AWS::ECS::TaskDefinition").Properties.ExecutionRoleArn)!;
    expect(roleStatements(template, executionRole)).toContainEqual(
      expect.objectContaining({ Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Resource: TLS_SECRET }),
    );
  });

  it("health-checks over HTTPS and advertises an https API URL", () => {
    const group = onlyResource(template, "AWS::ElasticLoadBalancingV2::TargetGroup").Properties;
    expect(group).toMatchObject({ Protocol: "TCP", HealthCheckProtocol: "HTTPS", HealthCheckPath: HEALTH_CHECK_PATH, Matcher: { HttpCode: "200" } });
    expect((template.Outputs as Json).ApiUrl.Value["Fn::Join"][1][0]).toBe("https://");
  });
});

it("puts the load balancer on the internet, open on 8200 to the given CIDRs only", () => {
  expect(onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").Properties.Scheme).toBe("internet-facing");
  const groups = resourcesOfType(template, "AWS::EC2::SecurityGroup");
  expect(groups).toHaveLength(2);
  for (const group of groups) {
    expect((group.Properties.SecurityGroupIngress as Json[]).map((r) => [r.CidrIp, r.FromPort, r.ToPort])).toEqual([
      ["10.20.0.0/16", 8200, 8200],
      ["192.168.1.0/24", 8200, 8200],
    ]);
  }
});

it("creates the edge Worker's user, which may only GetItem the lock partition", () => {
  const user = onlyResource(template, "AWS::IAM::User");
  const statements = resourcesOfType(template, "AWS::IAM::Policy")
    .filter((p) => (p.Properties.Users as unknown[] | undefined)?.some((u) => referencedId(u) === user.id))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Json[]);
  expect(statements).toEqual([
    {
      Action: "dynamodb:GetItem",
      Effect: "Allow",
      Resource: { "Fn::GetAtt": [onlyResource(template, "AWS::DynamoDB::Table").id, "Arn"] },
      Condition: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": ["/lock"] } },
    },
  ]);
  expect((template.Outputs as Json).EdgeReaderUser.Value).toEqual({ Ref: user.id });
});

it("has Resource \"*\" only where AWS allows nothing narrower: the key policy and ECR's auth token", () => {
  const wildcards = wildcardResourceStatements(template).filter(({ holder }) => holder.Type !== "AWS::KMS::Key");
  expect(wildcards.map(({ statement }) => statement.Action)).toEqual(["ecr:GetAuthorizationToken"]);
  const executionRole = referencedId(onlyResource(template, "AWS::ECS::TaskDefinition").Properties.ExecutionRoleArn);
  expect(wildcards.every(({ holder }) => (holder.Properties.Roles as unknown[]).some((r) => referencedId(r) === executionRole))).toBe(true);
});

describe("image built from source", () => {
  const stagedContext = () => {
    const asset = readdirSync(outdir).filter((name) => name.startsWith("asset.") && statSync(join(outdir, name)).isDirectory());
    expect(asset).toHaveLength(1);
    return join(outdir, asset[0]!);
  };
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? files(join(dir, name)) : [join(dir, name)]));

  it("stages only what infra/Dockerfile copies", () => {
    const context = stagedContext();
    const staged = files(context).map((file) => relative(context, file));
    const topLevel = [...new Set(staged.map((file) => file.split("/")[0]))].sort();
    expect(topLevel).toEqual(["adapters", "infra", "package-lock.json", "package.json", "src", "tsconfig.build.json", "tsconfig.json"]);
    expect(staged.filter((file) => file.startsWith("infra/")).sort()).toEqual(["infra/Dockerfile", "infra/entrypoint.mjs", "infra/strongbox.hcl"]);
    expect(staged.filter((file) => file.startsWith("adapters/") && !file.startsWith("adapters/node/"))).toEqual([]);
    expect(staged.filter((file) => file.includes("node_modules"))).toEqual([]);
  });

  it("stages every file the Dockerfile copies from the context", () => {
    const context = stagedContext();
    const dockerfile = readFileSync("infra/Dockerfile", "utf8");
    const sources = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(join(context, source)), source).toBe(true);
  });

  it("is built for linux/amd64, as the task definition runs", () => {
    const [container] = onlyResource(template, "AWS::ECS::TaskDefinition").Properties.ContainerDefinitions as Json[];
    expect(JSON.stringify(container!.Image)).toContain("cdk-hnb659fds-container-assets");
    const assets = JSON.parse(readFileSync(join(outdir, "Strongbox.assets.json"), "utf8"));
    const [image] = Object.values(assets.dockerImages) as Json[];
    expect(image!.source).toMatchObject({ dockerFile: "infra/Dockerfile", platform: "linux/amd64" });
    expect(onlyResource(template, "AWS::ECS::TaskDefinition").Properties.RuntimePlatform).toEqual({
      CpuArchitecture: "X86_64",
      OperatingSystemFamily: "LINUX",
    });
  });
});

describe("prebuilt image", () => {
  /** A bare task definition running `name`: enough to see what the image brings with it. */
  function taskWith(name: string): Json {
    const stack = new Stack(new App(), "Images", { env: { account: "111122223333", region: "eu-west-1" } });
    new ecs.FargateTaskDefinition(stack, "Task").addContainer("strongbox", { image: strongboxImage(stack, name) });
    return Template.fromStack(stack).toJSON();
  }

  it("from private ECR, may pull from that repository only", () => {
    const task = taskWith("111122223333.dkr.ecr.eu-west-1.amazonaws.com/strongbox:1.0.0");
    const definition = onlyResource(task, "AWS::ECS::TaskDefinition").Properties;
    expect(JSON.stringify(definition.ContainerDefinitions[0].Image)).toContain(".dkr.ecr.eu-west-1.");
    const statements = roleStatements(task, referencedId(definition.ExecutionRoleArn)!);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Action: ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
        Resource: { "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":ecr:eu-west-1:111122223333:repository/strongbox"]] },
      }),
    );
  });

  it("from any other registry, is pulled by name", () => {
    const task = taskWith("ghcr.io/example/strongbox@sha256:" + "0".repeat(64));
    const definition = onlyResource(task, "AWS::ECS::TaskDefinition").Properties;
    expect(definition.ContainerDefinitions[0].Image).toBe("ghcr.io/example/strongbox@sha256:" + "0".repeat(64));
    expect(definition.ExecutionRoleArn).toBeUndefined();
  });
});
