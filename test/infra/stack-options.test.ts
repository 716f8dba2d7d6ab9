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
import { HEALTH_CHECK_PATH, HEALTH_CHECK_PATH_BEFORE_INIT, StrongboxStack } from "../../infra/cdk/strongbox-stack.js";
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
  domainName: "Vault.Example.com",
  hostedZoneId: "Z0123456789ABCDEFGHIJ",
  edgeReader: "true",
};
const ENV = { account: "111122223333", region: "eu-west-1" };
const NODES = [1, 2, 3, 4, 5];

let outdir: string;
let template: Json;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "strongbox-cdk-"));
  const app = new App({ outdir, context: JSON.parse(readFileSync("infra/cdk/cdk.json", "utf8")).context });
  const { stackName, ...options } = readOptions((key) => (CONTEXT as Record<string, string>)[key]);
  const stack = new StrongboxStack(app, stackName, { ...options, env: ENV });
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
      domainName: "vault.example.com",
      hostedZoneId: "Z0123456789ABCDEFGHIJ",
      edgeReader: true,
    });
    const typed: Record<string, unknown> = {
      stackName: "Vault",
      taskCount: 3,
      clientCidrs: ["10.0.0.0/8"],
      edgeReader: false,
      insecureHttp: true,
      availabilityZones: ["us-west-1b", "us-west-1c"],
    };
    expect(readOptions((key) => typed[key])).toEqual({
      stackName: "Vault",
      taskCount: 3,
      clientCidrs: ["10.0.0.0/8"],
      edgeReader: false,
      insecureHttp: true,
      availabilityZones: ["us-west-1b", "us-west-1c"],
    });
  });

  it("refuses to go without TLS unless told it is a throw-away stack, and TLS without the name its certificate holds", () => {
    const read = (context: Record<string, string>) => () => readOptions((key) => context[key]);
    expect(read({})).toThrow('context "tlsSecretArn" is required: set it to a Secrets Manager secret with the certificate for domainName');
    expect(read({})).toThrow("-c insecureHttp=true serves plain HTTP instead");
    expect(read({ tlsSecretArn: TLS_SECRET })).toThrow('context "domainName" is required: set it to the DNS name the certificate in tlsSecretArn names');
    expect(read({ tlsSecretArn: TLS_SECRET, domainName: "vault.example.com", insecureHttp: "true" })).toThrow('context "insecureHttp" = true is not allowed');
    expect(read({ insecureHttp: "true", hostedZoneId: "Z0123456789ABCDEFGHIJ" })).toThrow(
      'context "domainName" is required: set it to the name to create in hostedZoneId',
    );
    expect(read({ insecureHttp: "false" })).toThrow('context "tlsSecretArn" is required');
    expect(readOptions((key) => ({ insecureHttp: "true" })[key as string])).toEqual({ stackName: "Strongbox", insecureHttp: true });
  });

  it("rejects bad values, naming the key and what is allowed", () => {
    const tls: Record<string, string> = { tlsSecretArn: TLS_SECRET, domainName: "vault.example.com" };
    const read = (key: string, value: unknown) => () => readOptions((k) => (k === key ? value : tls[k]));
    expect(read("taskCount", "three")).toThrow(OptionError);
    expect(read("taskCount", "0")).toThrow('context "taskCount" = "0" is not allowed: use a whole number from 1 to 10');
    expect(read("internetFacing", "yes")).toThrow("use true or false");
    expect(read("clientCidrs", "10.0.0.0")).toThrow('IPv4 CIDRs such as "10.0.0.0/16"');
    expect(read("vpcId", "my-vpc")).toThrow("a VPC id");
    // A partial ARN (no random suffix) would make ECS fail at task start, long after the deploy.
    expect(read("tlsSecretArn", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls")).toThrow("complete ARN");
    expect(read("domainName", "https://vault.example.com")).toThrow('a DNS name such as "vault.example.com"');
    expect(read("hostedZoneId", "example.com")).toThrow("a Route 53 hosted zone id");
    expect(read("availabilityZones", "eu-west-1a, west")).toThrow('availability zone names such as "eu-west-1a"');
  });
});

it("runs the requested number of nodes with the requested size, each behind its own load balancer port", () => {
  expect(resourcesOfType(template, "AWS::ECS::Service").map((service) => service.Properties.DesiredCount)).toEqual([1, 1, 1, 1, 1]);
  for (const task of resourcesOfType(template, "AWS::ECS::TaskDefinition")) expect(task.Properties).toMatchObject({ Cpu: "1024", Memory: "2048" });
  const ports = resourcesOfType(template, "AWS::ElasticLoadBalancingV2::Listener").map((listener) => listener.Properties.Port);
  expect(ports).toEqual([8200, 8211, 8212, 8213, 8214, 8215]);
  const apiAddrs = resourcesOfType(template, "AWS::ECS::TaskDefinition").map(
    (task) => (task.Properties.ContainerDefinitions[0].Environment as Json[]).find((e) => e.Name === "VAULT_API_ADDR")!.Value,
  );
  expect(apiAddrs).toEqual(NODES.map((n) => `https://vault.example.com:${8210 + n}`));
  expect((template.Outputs as Json).NodeApiAddrs.Value).toBe(apiAddrs.join(" "));
});

it("uses the existing VPC instead of creating one", () => {
  expect(resourcesOfType(template, "AWS::EC2::VPC")).toEqual([]);
  const group = resourcesOfType(template, "AWS::ElasticLoadBalancingV2::TargetGroup")[0]!.Properties;
  // What Vpc.fromLookup answers offline, before `cdk deploy` has looked the VPC up.
  expect(group.VpcId).toBe("vpc-12345");
});

describe("TLS from Secrets Manager", () => {
  it("injects the certificate and key into every node's container from the secret's JSON fields", () => {
    for (const task of resourcesOfType(template, "AWS::ECS::TaskDefinition")) {
      expect(task.Properties.ContainerDefinitions[0].Secrets).toEqual([
        { Name: "STRONGBOX_TLS_CERT", ValueFrom: `${TLS_SECRET}:certificate::` },
        { Name: "STRONGBOX_TLS_KEY", ValueFrom: `${TLS_SECRET}:private_key::` },
      ]);
    }
  });

  it("lets only the execution role read that one secret", () => {
    const executionRole = referencedId(resourcesOfType(template, "AWS::ECS::TaskDefinition")[0]!.Properties.ExecutionRoleArn)!;
    expect(roleStatements(template, executionRole)).toContainEqual(
      expect.objectContaining({ Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Resource: TLS_SECRET }),
    );
  });

  it("health-checks over HTTPS and advertises the https API URL under the domain name", () => {
    for (const group of resourcesOfType(template, "AWS::ElasticLoadBalancingV2::TargetGroup")) {
      expect(group.Properties).toMatchObject({ Protocol: "TCP", HealthCheckProtocol: "HTTPS", Matcher: { HttpCode: "200" } });
      expect(group.Properties.HealthCheckPath).toEqual({ "Fn::If": ["ClusterIsInitialized", HEALTH_CHECK_PATH, HEALTH_CHECK_PATH_BEFORE_INIT] });
    }
    expect((template.Outputs as Json).ApiUrl.Value).toBe("https://vault.example.com:8200");
  });
});

it("names the load balancer in the hosted zone as the domain name", () => {
  const balancer = onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").id;
  expect(onlyResource(template, "AWS::Route53::RecordSet").Properties).toEqual({
    HostedZoneId: "Z0123456789ABCDEFGHIJ",
    Name: "vault.example.com.",
    Type: "A",
    AliasTarget: {
      DNSName: { "Fn::GetAtt": [balancer, "DNSName"] },
      HostedZoneId: { "Fn::GetAtt": [balancer, "CanonicalHostedZoneID"] },
      EvaluateTargetHealth: false,
    },
  });
});

it("puts the load balancer on the internet, its API and node ports open to the given CIDRs only; the tasks to the load balancer only", () => {
  expect(onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").Properties.Scheme).toBe("internet-facing");
  const balancerGroup = referencedId(onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").Properties.SecurityGroups[0])!;
  const groups = resourcesOfType(template, "AWS::EC2::SecurityGroup");
  expect(groups).toHaveLength(2);
  for (const group of groups) {
    const rules = ((group.Properties.SecurityGroupIngress ?? []) as Json[]).map((r) => [r.CidrIp, r.FromPort, r.ToPort]);
    expect(rules).toEqual(
      group.id === balancerGroup
        ? [
            ["10.20.0.0/16", 8200, 8200],
            ["10.20.0.0/16", 8211, 8215],
            ["192.168.1.0/24", 8200, 8200],
            ["192.168.1.0/24", 8211, 8215],
          ]
        : [],
    );
  }
});

describe("a throw-away stack without TLS", () => {
  let plain: Json;
  beforeAll(() => {
    const app = new App({ context: JSON.parse(readFileSync("infra/cdk/cdk.json", "utf8")).context });
    plain = Template.fromStack(
      new StrongboxStack(app, "Throwaway", {
        env: ENV,
        image: "public.ecr.aws/example/strongbox:1.0.0",
        insecureHttp: true,
        availabilityZones: ["eu-west-1a", "eu-west-1b", "eu-west-1c"],
      }),
    ).toJSON();
  });

  it("serves and health-checks plain HTTP, each node at the load balancer's own name", () => {
    const balancer = onlyResource(plain, "AWS::ElasticLoadBalancingV2::LoadBalancer").id;
    for (const group of resourcesOfType(plain, "AWS::ElasticLoadBalancingV2::TargetGroup")) expect(group.Properties.HealthCheckProtocol).toBe("HTTP");
    const containers = resourcesOfType(plain, "AWS::ECS::TaskDefinition").map((task) => task.Properties.ContainerDefinitions[0] as Json);
    expect(containers.map((container) => container.Secrets)).toEqual([undefined, undefined, undefined]);
    expect(containers.map((container) => (container.Environment as Json[]).find((e) => e.Name === "VAULT_API_ADDR")!.Value)).toEqual(
      [1, 2, 3].map((n) => ({ "Fn::Join": ["", ["http://", { "Fn::GetAtt": [balancer, "DNSName"] }, `:${8210 + n}`]] })),
    );
    expect((plain.Outputs as Json).ApiUrl.Value).toEqual({ "Fn::Join": ["", ["http://", { "Fn::GetAtt": [balancer, "DNSName"] }, ":8200"]] });
  });

  it("spreads a new VPC over the zones it is given", () => {
    const zones = resourcesOfType(plain, "AWS::EC2::Subnet").map((subnet) => subnet.Properties.AvailabilityZone);
    expect(zones).toEqual(["eu-west-1a", "eu-west-1b", "eu-west-1c", "eu-west-1a", "eu-west-1b", "eu-west-1c"]);
  });
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

it("keeps the edge reader's access key in a secret whose fields are the Worker's secret names", () => {
  const user = onlyResource(template, "AWS::IAM::User");
  const key = onlyResource(template, "AWS::IAM::AccessKey");
  expect(key.Properties).toEqual({ UserName: { Ref: user.id } });
  const secret = onlyResource(template, "AWS::SecretsManager::Secret");
  expect(secret.Properties.SecretString).toEqual({
    "Fn::Join": ["", ['{"AWS_ACCESS_KEY_ID":"', { Ref: key.id }, '","AWS_SECRET_ACCESS_KEY":"', { "Fn::GetAtt": [key.id, "SecretAccessKey"] }, '"}']],
  });
  expect((template.Outputs as Json).EdgeReaderSecretArn.Value).toEqual({ Ref: secret.id });
  // The secret access key reaches CloudFormation only as an attribute reference, never as text.
  expect(JSON.stringify(template)).not.toMatch(/"SecretAccessKey":"[^"]/);
});

it('has Resource "*" only where AWS allows nothing narrower: the key policy and ECR\'s auth token', () => {
  const wildcards = wildcardResourceStatements(template).filter(({ holder }) => holder.Type !== "AWS::KMS::Key");
  expect(wildcards.map(({ statement }) => statement.Action)).toEqual(["ecr:GetAuthorizationToken"]);
  const executionRole = referencedId(resourcesOfType(template, "AWS::ECS::TaskDefinition")[0]!.Properties.ExecutionRoleArn);
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
    const [container] = resourcesOfType(template, "AWS::ECS::TaskDefinition")[0]!.Properties.ContainerDefinitions as Json[];
    expect(JSON.stringify(container!.Image)).toContain("cdk-hnb659fds-container-assets");
    const assets = JSON.parse(readFileSync(join(outdir, "Strongbox.assets.json"), "utf8"));
    const [image] = Object.values(assets.dockerImages) as Json[];
    expect(image!.source).toMatchObject({ dockerFile: "infra/Dockerfile", platform: "linux/amd64" });
    for (const task of resourcesOfType(template, "AWS::ECS::TaskDefinition")) {
      expect(task.Properties.RuntimePlatform).toEqual({ CpuArchitecture: "X86_64", OperatingSystemFamily: "LINUX" });
    }
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
