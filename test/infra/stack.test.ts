/** The CDK stack with its defaults, synthesised once, offline (the image comes from a registry name). */
import { readFileSync } from "node:fs";
import { runInNewContext } from "node:vm";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { LOCK_PARTITION as BACKEND_LOCK_PARTITION } from "../../src/physical/dynamodb-lock-item.js";
import {
  BACKEND_PERMISSIONS,
  COMMANDS_NOT_GRANTED,
  KMS_ACTIONS,
  LOCK_PARTITION,
  SEAL_KEY_ACTIONS,
  StrongboxStack,
  TARGET_REGISTRAR_SOURCE,
} from "../../infra/cdk/strongbox-stack.js";
import {
  actionsOf,
  backendCommands,
  type Json,
  onlyResource,
  referencedId,
  resourcesOfType,
  roleStatements,
  wildcardResourceStatements,
} from "./template.js";

let template: Json;

/** The stack's two KMS keys, told apart by their description. */
function kmsKey(purpose: "bucket" | "seal") {
  const keys = resourcesOfType(template, "AWS::KMS::Key");
  expect(keys).toHaveLength(2);
  return keys.find((key) => key.Properties.Description.includes(purpose === "seal" ? "auto-unseal" : "data bucket"))!;
}

beforeAll(() => {
  const app = new App({ context: JSON.parse(readFileSync("infra/cdk/cdk.json", "utf8")).context });
  const stack = new StrongboxStack(app, "Strongbox", {
    env: { account: "111122223333", region: "eu-west-1" },
    image: "public.ecr.aws/example/strongbox:1.0.0",
  });
  template = Template.fromStack(stack).toJSON();
});

describe("lock table", () => {
  it("has exactly the key schema the DynamoDB backend checks for", () => {
    const table = onlyResource(template, "AWS::DynamoDB::Table").Properties;
    const backend = readFileSync("src/physical/dynamodb.ts", "utf8");
    const expected = /schema !== "([^"]+)"/.exec(backend)?.[1];
    expect(expected).toBe("Path:HASH,Key:RANGE");
    expect(table.KeySchema.map((k: Json) => `${k.AttributeName}:${k.KeyType}`).join(",")).toBe(expected);
    expect(table.AttributeDefinitions).toEqual([
      { AttributeName: "Path", AttributeType: "S" },
      { AttributeName: "Key", AttributeType: "S" },
    ]);
  });

  it("is on demand, with point-in-time recovery, and survives the stack", () => {
    const table = onlyResource(template, "AWS::DynamoDB::Table");
    expect(table.Properties.BillingMode).toBe("PAY_PER_REQUEST");
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    expect(template.Resources[table.id].DeletionPolicy).toBe("Retain");
  });

  it("scopes the edge reader to the partition the backend keeps its lock records in", () => {
    expect(LOCK_PARTITION).toBe(BACKEND_LOCK_PARTITION);
  });
});

describe("data bucket", () => {
  it("is encrypted with the stack's KMS key, versioned, private and retained", () => {
    const bucket = onlyResource(template, "AWS::S3::Bucket");
    const key = kmsKey("bucket");
    expect(bucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([
      { BucketKeyEnabled: true, ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: { "Fn::GetAtt": [key.id, "Arn"] } } },
    ]);
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(bucket.Properties.VersioningConfiguration).toEqual({ Status: "Enabled" });
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(template.Resources[bucket.id].DeletionPolicy).toBe("Retain");
  });

  it("refuses every request that does not use TLS", () => {
    const bucket = onlyResource(template, "AWS::S3::Bucket");
    const policy = onlyResource(template, "AWS::S3::BucketPolicy").Properties;
    expect(referencedId(policy.Bucket)).toBe(bucket.id);
    const deny = (policy.PolicyDocument.Statement as Json[]).find((s) => s.Effect === "Deny");
    expect(deny).toMatchObject({ Action: "s3:*", Principal: { AWS: "*" }, Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(deny!.Resource).toEqual([
      { "Fn::GetAtt": [bucket.id, "Arn"] },
      { "Fn::Join": ["", [{ "Fn::GetAtt": [bucket.id, "Arn"] }, "/*"]] },
    ]);
  });
});

describe("task role", () => {
  const taskRoleId = () => referencedId(onlyResource(template, "AWS::ECS::TaskDefinition").Properties.TaskRoleArn)!;

  it("lists every AWS command the backends send, and nothing they do not", () => {
    expect(backendCommands()).toEqual([...Object.keys(BACKEND_PERMISSIONS), ...Object.keys(COMMANDS_NOT_GRANTED)].sort());
  });

  it("allows exactly the actions those commands need", () => {
    const expected = [...Object.values(BACKEND_PERMISSIONS).flatMap((p) => p.actions), ...KMS_ACTIONS];
    expect(actionsOf(roleStatements(template, taskRoleId()))).toEqual([...new Set(expected)].sort());
    expect(actionsOf(roleStatements(template, taskRoleId()))).toEqual([
      "dynamodb:BatchWriteItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:DeleteItem",
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
      "kms:Decrypt",
      "kms:GenerateDataKey",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
  });

  it("grants them on the table, the bucket, its objects and its key only", () => {
    const table = onlyResource(template, "AWS::DynamoDB::Table").id;
    const bucket = onlyResource(template, "AWS::S3::Bucket").id;
    const key = kmsKey("bucket").id;
    const grants = roleStatements(template, taskRoleId()).map((s) => ({ actions: [s.Action].flat().sort(), resource: s.Resource }));
    expect(grants).toEqual(
      expect.arrayContaining([
        { actions: expect.arrayContaining(["dynamodb:GetItem"]), resource: { "Fn::GetAtt": [table, "Arn"] } },
        { actions: ["s3:ListBucket"], resource: { "Fn::GetAtt": [bucket, "Arn"] } },
        { actions: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], resource: { "Fn::Join": ["", [{ "Fn::GetAtt": [bucket, "Arn"] }, "/*"]] } },
        { actions: ["kms:Decrypt", "kms:GenerateDataKey"], resource: { "Fn::GetAtt": [key, "Arn"] } },
      ]),
    );
    expect(grants).toHaveLength(4);
  });
});

describe("seal key", () => {
  it("is a rotated, retained key whose policy lets the task role Encrypt, Decrypt and DescribeKey, nothing else", () => {
    const key = kmsKey("seal");
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(template.Resources[key.id].DeletionPolicy).toBe("Retain");
    const taskRole = referencedId(onlyResource(template, "AWS::ECS::TaskDefinition").Properties.TaskRoleArn)!;
    const forTaskRole = (key.Properties.KeyPolicy.Statement as Json[]).filter((statement) => referencedId(statement.Principal?.AWS) === taskRole);
    expect(forTaskRole).toEqual([{ Sid: "StrongboxTasksSeal", Effect: "Allow", Principal: { AWS: { "Fn::GetAtt": [taskRole, "Arn"] } }, Action: SEAL_KEY_ACTIONS, Resource: "*" }]);
    expect(SEAL_KEY_ACTIONS).toEqual(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]);
    // Nothing in the task role's own IAM policy names the seal key.
    expect(JSON.stringify(roleStatements(template, taskRole))).not.toContain(key.id);
  });

  it("is what the container's seal stanza uses (VAULT_AWSKMS_SEAL_KEY_ID)", () => {
    const [container] = onlyResource(template, "AWS::ECS::TaskDefinition").Properties.ContainerDefinitions as Json[];
    const env = Object.fromEntries((container!.Environment as Json[]).map((e) => [e.Name, e.Value]));
    expect(env.VAULT_AWSKMS_SEAL_KEY_ID).toEqual({ "Fn::GetAtt": [kmsKey("seal").id, "Arn"] });
    expect(readFileSync("infra/strongbox.hcl", "utf8")).toMatch(/^seal "awskms" \{\}$/m);
  });
});

it("has no IAM statement on Resource \"*\" (a KMS key policy's \"*\" means that key)", () => {
  const wildcards = wildcardResourceStatements(template).filter(({ holder }) => holder.Type !== "AWS::KMS::Key");
  expect(wildcards).toEqual([]);
});

describe("service", () => {
  it("runs 3 Fargate tasks in private subnets of 3 availability zones", () => {
    const service = onlyResource(template, "AWS::ECS::Service").Properties;
    expect(service.DesiredCount).toBe(3);
    expect(service.LaunchType).toBe("FARGATE");
    const network = service.NetworkConfiguration.AwsvpcConfiguration;
    expect(network.AssignPublicIp).toBe("DISABLED");
    const zones = (network.Subnets as Json[]).map((subnet) => template.Resources[referencedId(subnet)!].Properties.AvailabilityZone);
    expect(new Set(zones).size).toBe(3);
  });

  it("is not attached to the load balancer, so ECS never stops a standby for failing the active-only check", () => {
    const service = onlyResource(template, "AWS::ECS::Service");
    expect(service.Properties.LoadBalancers).toBeUndefined();
    expect(service.Properties.DeploymentConfiguration).toMatchObject({ MinimumHealthyPercent: 100, MaximumPercent: 200 });
  });

  it("gives the container the bucket, table and region, ports 8200 and 8201, and CloudWatch logs", () => {
    const [container] = onlyResource(template, "AWS::ECS::TaskDefinition").Properties.ContainerDefinitions as Json[];
    const env = Object.fromEntries((container!.Environment as Json[]).map((e) => [e.Name, e.Value]));
    expect(env).toEqual({
      AWS_S3_BUCKET: { Ref: onlyResource(template, "AWS::S3::Bucket").id },
      AWS_DYNAMODB_TABLE: { Ref: onlyResource(template, "AWS::DynamoDB::Table").id },
      AWS_REGION: "eu-west-1",
      VAULT_AWSKMS_SEAL_KEY_ID: { "Fn::GetAtt": [kmsKey("seal").id, "Arn"] },
    });
    expect(container!.Secrets).toBeUndefined();
    expect(container!.Image).toBe("public.ecr.aws/example/strongbox:1.0.0");
    expect((container!.PortMappings as Json[]).map((p) => p.ContainerPort)).toEqual([8200, 8201]);
    expect(container!.LogConfiguration.LogDriver).toBe("awslogs");
  });
});

describe("load balancer", () => {
  it("health-checks /v1/sys/health and counts only 200 (the active node) as healthy", () => {
    const group = onlyResource(template, "AWS::ElasticLoadBalancingV2::TargetGroup").Properties;
    expect(group).toMatchObject({
      Port: 8200,
      Protocol: "TCP",
      TargetType: "ip",
      HealthCheckProtocol: "HTTP",
      HealthCheckPath: "/v1/sys/health",
      Matcher: { HttpCode: "200" },
    });
  });

  it("listens on 8200, internal, and balances across zones", () => {
    const listener = onlyResource(template, "AWS::ElasticLoadBalancingV2::Listener").Properties;
    expect(listener).toMatchObject({ Port: 8200, Protocol: "TCP" });
    const balancer = onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").Properties;
    expect(balancer.Type).toBe("network");
    expect(balancer.Scheme).toBe("internal");
    expect(balancer.LoadBalancerAttributes).toContainEqual({ Key: "load_balancing.cross_zone.enabled", Value: "true" });
  });

  it("gets each task's IP from a registrar that ECS task events drive, set up before the service starts", () => {
    const group = onlyResource(template, "AWS::ElasticLoadBalancingV2::TargetGroup").id;
    const fn = onlyResource(template, "AWS::Lambda::Function");
    expect(fn.Properties.Code.ZipFile).toBe(TARGET_REGISTRAR_SOURCE);
    expect(fn.Properties.Environment.Variables).toEqual({ TARGET_GROUP_ARN: { Ref: group }, TARGET_PORT: "8200" });
    expect(roleStatements(template, referencedId(fn.Properties.Role)!)).toContainEqual({
      Action: ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"],
      Effect: "Allow",
      Resource: { Ref: group },
    });
    const rule = onlyResource(template, "AWS::Events::Rule");
    expect(rule.Properties.EventPattern).toEqual({
      source: ["aws.ecs"],
      "detail-type": ["ECS Task State Change"],
      detail: { clusterArn: [{ "Fn::GetAtt": [onlyResource(template, "AWS::ECS::Cluster").id, "Arn"] }] },
    });
    expect(onlyResource(template, "AWS::ECS::Service").DependsOn).toEqual(expect.arrayContaining([fn.id, rule.id]));
  });
});

describe("security groups", () => {
  const taskGroup = () => referencedId(onlyResource(template, "AWS::ECS::Service").Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups[0])!;

  it("opens the cluster port 8201 only between the tasks", () => {
    const rules = resourcesOfType(template, "AWS::EC2::SecurityGroupIngress").filter((r) => r.Properties.FromPort === 8201);
    expect(rules.map((r) => r.Properties)).toEqual([
      expect.objectContaining({
        IpProtocol: "tcp",
        ToPort: 8201,
        GroupId: { "Fn::GetAtt": [taskGroup(), "GroupId"] },
        SourceSecurityGroupId: { "Fn::GetAtt": [taskGroup(), "GroupId"] },
      }),
    ]);
    const inline = template.Resources[taskGroup()].Properties.SecurityGroupIngress as Json[];
    expect(inline.filter((r) => r.FromPort === 8201)).toEqual([]);
  });

  it("opens 8200 on the tasks to the load balancer and to clients in the VPC", () => {
    const balancerGroup = referencedId(onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").Properties.SecurityGroups[0])!;
    const fromBalancer = resourcesOfType(template, "AWS::EC2::SecurityGroupIngress").filter((r) => r.Properties.FromPort === 8200);
    expect(fromBalancer.map((r) => [referencedId(r.Properties.GroupId), referencedId(r.Properties.SourceSecurityGroupId)])).toEqual([
      [taskGroup(), balancerGroup],
    ]);
    const vpcCidr = { "Fn::GetAtt": [onlyResource(template, "AWS::EC2::VPC").id, "CidrBlock"] };
    for (const group of [taskGroup(), balancerGroup]) {
      expect(template.Resources[group].Properties.SecurityGroupIngress).toEqual([expect.objectContaining({ CidrIp: vpcCidr, FromPort: 8200, ToPort: 8200 })]);
    }
  });
});

it("outputs the API URL, the table and the bucket", () => {
  const outputs = template.Outputs as Json;
  expect(outputs.ApiUrl.Value["Fn::Join"][1]).toEqual(["http://", expect.anything(), ":8200"]);
  expect(outputs.TableName.Value).toEqual({ Ref: onlyResource(template, "AWS::DynamoDB::Table").id });
  expect(outputs.BucketName.Value).toEqual({ Ref: onlyResource(template, "AWS::S3::Bucket").id });
  expect(outputs.EdgeReaderUser).toBeUndefined();
});

describe("target registrar handler", () => {
  const taskEvent = (lastStatus: string, desiredStatus: string, ip: string | undefined) => ({
    source: "aws.ecs",
    "detail-type": "ECS Task State Change",
    detail: {
      taskArn: "arn:aws:ecs:eu-west-1:111122223333:task/strongbox/5d2a6c1e9f0b4a7c8e3d2f1a0b9c8d7e",
      lastStatus,
      desiredStatus,
      attachments: [
        {
          id: "a1b2c3d4-5678-90ab-cdef-111122223333",
          type: "eni",
          status: "ATTACHED",
          details: [
            { name: "subnetId", value: "subnet-0abc1234def567890" },
            { name: "networkInterfaceId", value: "eni-0abc1234def567890" },
            ...(ip ? [{ name: "privateIPv4Address", value: ip }] : []),
          ],
        },
      ],
    },
  });

  async function handle(event: unknown): Promise<{ command: string; input: Json }[]> {
    const sent: { command: string; input: Json }[] = [];
    const command = (name: string) =>
      class {
        constructor(readonly input: Json) {
          sent.push({ command: name, input });
        }
      };
    const sdk = {
      ElasticLoadBalancingV2Client: class {
        async send() {}
      },
      RegisterTargetsCommand: command("RegisterTargets"),
      DeregisterTargetsCommand: command("DeregisterTargets"),
    };
    const module = { exports: {} as { handler?: (event: unknown) => Promise<void> } };
    runInNewContext(TARGET_REGISTRAR_SOURCE, {
      require: (name: string) => {
        expect(name).toBe("@aws-sdk/client-elastic-load-balancing-v2");
        return sdk;
      },
      module,
      exports: module.exports,
      process: { env: { TARGET_GROUP_ARN: "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/active/0123456789abcdef", TARGET_PORT: "8200" } },
      console: { log() {} },
    });
    await module.exports.handler!(event);
    return sent;
  }

  const request = {
    TargetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/active/0123456789abcdef",
    Targets: [{ Id: "10.0.148.37", Port: 8200 }],
  };

  it("registers a task's IP once it runs", async () => {
    expect(await handle(taskEvent("RUNNING", "RUNNING", "10.0.148.37"))).toEqual([{ command: "RegisterTargets", input: request }]);
  });

  it("deregisters it as soon as the task is told to stop", async () => {
    expect(await handle(taskEvent("RUNNING", "STOPPED", "10.0.148.37"))).toEqual([{ command: "DeregisterTargets", input: request }]);
    expect(await handle(taskEvent("STOPPED", "STOPPED", "10.0.148.37"))).toEqual([{ command: "DeregisterTargets", input: request }]);
  });

  it("ignores tasks still starting, or without an address yet", async () => {
    expect(await handle(taskEvent("PENDING", "RUNNING", "10.0.148.37"))).toEqual([]);
    expect(await handle(taskEvent("RUNNING", "RUNNING", undefined))).toEqual([]);
  });
});
