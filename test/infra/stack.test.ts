/** The CDK stack with its defaults, synthesised once, offline (the image comes from a registry name). */
import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { LOCK_PARTITION as BACKEND_LOCK_PARTITION } from "../../src/physical/dynamodb-lock-item.js";
import {
  BACKEND_PERMISSIONS,
  COMMANDS_NOT_GRANTED,
  HEALTH_CHECK_PATH,
  KMS_ACTIONS,
  LOCK_PARTITION,
  SEAL_KEY_ACTIONS,
  StrongboxStack,
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

  it("owns the load balancer's target group: registers the container's API port, with a grace period to unseal", () => {
    const service = onlyResource(template, "AWS::ECS::Service");
    const group = onlyResource(template, "AWS::ElasticLoadBalancingV2::TargetGroup").id;
    expect(service.Properties.LoadBalancers).toEqual([{ ContainerName: "strongbox", ContainerPort: 8200, TargetGroupArn: { Ref: group } }]);
    expect(service.Properties.HealthCheckGracePeriodSeconds).toBe(60);
    expect(service.Properties.DeploymentConfiguration).toMatchObject({ MinimumHealthyPercent: 100, MaximumPercent: 200 });
  });

  it("has no registration function, event rule or Lambda role left", () => {
    expect(resourcesOfType(template, "AWS::Lambda::Function")).toEqual([]);
    expect(resourcesOfType(template, "AWS::Events::Rule")).toEqual([]);
    const roles = resourcesOfType(template, "AWS::IAM::Role").map((role) => role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service);
    expect(roles).not.toContain("lambda.amazonaws.com");
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
  it("health-checks sys/health with standbyok, counting 200 (active, unsealed standby, uninitialised) as healthy", () => {
    const group = onlyResource(template, "AWS::ElasticLoadBalancingV2::TargetGroup").Properties;
    expect(group).toMatchObject({
      Port: 8200,
      Protocol: "TCP",
      TargetType: "ip",
      HealthCheckProtocol: "HTTP",
      HealthCheckPath: "/v1/sys/health?standbyok=true&perfstandbyok=true&uninitcode=200",
      Matcher: { HttpCode: "200" },
    });
    expect(group.HealthCheckPath).toBe(HEALTH_CHECK_PATH);
  });

  it("listens on 8200, internal, and balances across zones", () => {
    const listener = onlyResource(template, "AWS::ElasticLoadBalancingV2::Listener").Properties;
    expect(listener).toMatchObject({ Port: 8200, Protocol: "TCP" });
    const balancer = onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").Properties;
    expect(balancer.Type).toBe("network");
    expect(balancer.Scheme).toBe("internal");
    expect(balancer.LoadBalancerAttributes).toContainEqual({ Key: "load_balancing.cross_zone.enabled", Value: "true" });
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
