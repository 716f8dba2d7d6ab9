/**
 * The CDK stack with its defaults and the one required choice (TLS for a domain name), synthesised
 * once, offline (the image comes from a registry name).
 */
import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { LOCK_PARTITION as BACKEND_LOCK_PARTITION } from "../../src/physical/dynamodb-lock-item.js";
import {
  BACKEND_PERMISSIONS,
  COMMANDS_NOT_GRANTED,
  DEREGISTRATION_DELAY_SECONDS,
  HEALTH_CHECK_PATH,
  HEALTH_CHECK_PATH_BEFORE_INIT,
  KMS_ACTIONS,
  LOCK_PARTITION,
  SEAL_KEY_ACTIONS,
  SHUTDOWN_DELAY_SECONDS,
  STOP_TIMEOUT_SECONDS,
  StrongboxStack,
} from "../../infra/cdk/strongbox-stack.js";
import { COLLECTOR_LOG_ACTIONS } from "../../infra/cdk/monitoring.js";
import { DRAIN_TIMEOUT_MS } from "../../src/ha/drain.js";
import { actionsOf, backendCommands, type Json, onlyResource, referencedId, resourcesOfType, roleStatements, wildcardResourceStatements } from "./template.js";

const TLS_SECRET = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls-Ab12Cd";

let template: Json;

/** Node n's task definition (n from 1). */
function taskDefinition(n = 1) {
  return resourcesOfType(template, "AWS::ECS::TaskDefinition").find((task) => task.id.startsWith(`Node${n}Task`))!;
}

/** The data bucket (the other holds its access logs). */
function dataBucket() {
  return resourcesOfType(template, "AWS::S3::Bucket").find((bucket) => bucket.id.startsWith("DataBucket"))!;
}

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
    tlsSecretArn: TLS_SECRET,
    domainName: "vault.example.com",
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
    const bucket = dataBucket();
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
    const bucket = dataBucket();
    const policy = resourcesOfType(template, "AWS::S3::BucketPolicy").find((p) => referencedId(p.Properties.Bucket) === bucket.id)!.Properties;
    const deny = (policy.PolicyDocument.Statement as Json[]).find((s) => s.Effect === "Deny");
    expect(deny).toMatchObject({ Action: "s3:*", Principal: { AWS: "*" }, Condition: { Bool: { "aws:SecureTransport": "false" } } });
    expect(deny!.Resource).toEqual([{ "Fn::GetAtt": [bucket.id, "Arn"] }, { "Fn::Join": ["", [{ "Fn::GetAtt": [bucket.id, "Arn"] }, "/*"]] }]);
  });
});

describe("task role", () => {
  const taskRoleId = () => referencedId(taskDefinition().Properties.TaskRoleArn)!;

  it("lists every AWS command the backends send, and nothing they do not", () => {
    expect(backendCommands()).toEqual([...Object.keys(BACKEND_PERMISSIONS), ...Object.keys(COMMANDS_NOT_GRANTED)].sort());
  });

  it("allows exactly the actions those commands need", () => {
    const expected = [...Object.values(BACKEND_PERMISSIONS).flatMap((p) => p.actions), ...KMS_ACTIONS, ...COLLECTOR_LOG_ACTIONS];
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
      "logs:CreateLogStream",
      "logs:DescribeLogStreams",
      "logs:PutLogEvents",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
  });

  it("grants them on the table, the bucket, its objects and its key only, and the metrics collector its log group", () => {
    const table = onlyResource(template, "AWS::DynamoDB::Table").id;
    const bucket = dataBucket().id;
    const key = kmsKey("bucket").id;
    const grants = roleStatements(template, taskRoleId()).map((s) => ({ actions: [s.Action].flat().sort(), resource: s.Resource }));
    expect(grants).toEqual(
      expect.arrayContaining([
        { actions: expect.arrayContaining(["dynamodb:GetItem"]), resource: { "Fn::GetAtt": [table, "Arn"] } },
        { actions: ["s3:ListBucket"], resource: { "Fn::GetAtt": [bucket, "Arn"] } },
        { actions: ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], resource: { "Fn::Join": ["", [{ "Fn::GetAtt": [bucket, "Arn"] }, "/*"]] } },
        { actions: ["kms:Decrypt", "kms:GenerateDataKey"], resource: { "Fn::GetAtt": [key, "Arn"] } },
        {
          actions: COLLECTOR_LOG_ACTIONS,
          resource: { "Fn::GetAtt": [resourcesOfType(template, "AWS::Logs::LogGroup").find((g) => g.id.startsWith("MetricsLogs"))!.id, "Arn"] },
        },
      ]),
    );
    expect(grants).toHaveLength(5);
  });
});

describe("seal key", () => {
  it("is a rotated, retained key whose policy lets the task role Encrypt, Decrypt and DescribeKey, nothing else", () => {
    const key = kmsKey("seal");
    expect(key.Properties.EnableKeyRotation).toBe(true);
    expect(template.Resources[key.id].DeletionPolicy).toBe("Retain");
    const taskRole = referencedId(taskDefinition().Properties.TaskRoleArn)!;
    const forTaskRole = (key.Properties.KeyPolicy.Statement as Json[]).filter((statement) => referencedId(statement.Principal?.AWS) === taskRole);
    expect(forTaskRole).toEqual([
      { Sid: "StrongboxTasksSeal", Effect: "Allow", Principal: { AWS: { "Fn::GetAtt": [taskRole, "Arn"] } }, Action: SEAL_KEY_ACTIONS, Resource: "*" },
    ]);
    expect(SEAL_KEY_ACTIONS).toEqual(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"]);
    // Nothing in the task role's own IAM policy names the seal key.
    expect(JSON.stringify(roleStatements(template, taskRole))).not.toContain(key.id);
  });

  it("is what the container's seal stanza uses (VAULT_AWSKMS_SEAL_KEY_ID)", () => {
    const [container] = taskDefinition().Properties.ContainerDefinitions as Json[];
    const env = Object.fromEntries((container!.Environment as Json[]).map((e) => [e.Name, e.Value]));
    expect(env.VAULT_AWSKMS_SEAL_KEY_ID).toEqual({ "Fn::GetAtt": [kmsKey("seal").id, "Arn"] });
    expect(readFileSync("infra/strongbox.hcl", "utf8")).toMatch(/^seal "awskms" \{\}$/m);
  });
});

it('has no IAM statement on Resource "*" (a KMS key policy\'s "*" means that key)', () => {
  const wildcards = wildcardResourceStatements(template).filter(({ holder }) => holder.Type !== "AWS::KMS::Key");
  expect(wildcards).toEqual([]);
});

const NODES = [1, 2, 3];
const service = (n: number) => resourcesOfType(template, "AWS::ECS::Service").find((found) => found.id.startsWith(`Node${n}Service`))!;
const targetGroup = (id: string) => resourcesOfType(template, "AWS::ElasticLoadBalancingV2::TargetGroup").find((group) => group.id.startsWith(id))!;
const vpcCidr = () => ({ "Fn::GetAtt": [onlyResource(template, "AWS::EC2::VPC").id, "CidrBlock"] });

describe("refusing to serve without TLS", () => {
  const build = (props: object) => () =>
    new StrongboxStack(new App(), "Strongbox", {
      env: { account: "111122223333", region: "eu-west-1" },
      image: "public.ecr.aws/example/strongbox:1.0.0",
      ...props,
    });

  it("needs a TLS secret, or the throw-away opt-out", () => {
    expect(build({})).toThrow("tlsSecretArn is required (insecureHttp: true only for a throw-away test stack)");
    expect(build({ domainName: "vault.example.com" })).toThrow("tlsSecretArn is required");
    expect(build({ insecureHttp: true })).not.toThrow();
  });

  it("needs the domain name the certificate holds", () => {
    expect(build({ tlsSecretArn: TLS_SECRET })).toThrow("tlsSecretArn needs domainName, the name its certificate holds");
  });
});

describe("nodes", () => {
  it("are one ECS service of one Fargate task each, in private subnets of 3 zones CloudFormation names at deploy time", () => {
    expect(resourcesOfType(template, "AWS::ECS::Service")).toHaveLength(3);
    const subnets = resourcesOfType(template, "AWS::EC2::Subnet").filter((subnet) => subnet.id.startsWith("Vpctasks"));
    for (const n of NODES) {
      const properties = service(n).Properties;
      expect(properties.DesiredCount).toBe(1);
      expect(properties.LaunchType).toBe("FARGATE");
      expect(properties.TaskDefinition).toEqual({ Ref: taskDefinition(n).id });
      const network = properties.NetworkConfiguration.AwsvpcConfiguration;
      expect(network.AssignPublicIp).toBe("DISABLED");
      expect(network.Subnets).toEqual(subnets.map((subnet) => ({ Ref: subnet.id })));
    }
    // No availability zone lookup: synthesis needs no AWS credentials.
    expect(subnets.map((subnet) => subnet.Properties.AvailabilityZone)).toEqual([0, 1, 2].map((i) => ({ "Fn::Select": [i, { "Fn::GetAZs": "" }] })));
  });

  it("register in the shared target group and in their own, start before they stop, and roll back a failing deployment", () => {
    for (const n of NODES) {
      const properties = service(n).Properties;
      const target = { ContainerName: "strongbox", ContainerPort: 8200 };
      expect(properties.LoadBalancers).toEqual([
        { ...target, TargetGroupArn: { Ref: targetGroup("ServingNodes").id } },
        { ...target, TargetGroupArn: { Ref: targetGroup(`Node${n}Targets`).id } },
      ]);
      expect(properties.HealthCheckGracePeriodSeconds).toBe(300);
      expect(properties.DeploymentConfiguration).toEqual({
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        Alarms: { AlarmNames: [], Enable: false, Rollback: false },
      });
    }
  });

  it("advertise https://<domainName>:<their own load balancer port> and trust PROXY headers from the VPC's addresses", () => {
    for (const n of NODES) {
      const [container] = taskDefinition(n).Properties.ContainerDefinitions as Json[];
      const env = Object.fromEntries((container!.Environment as Json[]).map((e) => [e.Name, e.Value]));
      expect(env).toEqual({
        AWS_S3_BUCKET: { Ref: dataBucket().id },
        AWS_DYNAMODB_TABLE: { Ref: onlyResource(template, "AWS::DynamoDB::Table").id },
        AWS_REGION: "eu-west-1",
        VAULT_AWSKMS_SEAL_KEY_ID: { "Fn::GetAtt": [kmsKey("seal").id, "Arn"] },
        VAULT_API_ADDR: `https://vault.example.com:${8210 + n}`,
        STRONGBOX_PROXY_PROTOCOL_AUTHORIZED_ADDRS: vpcCidr(),
      });
      expect(container!.Secrets).toEqual([
        { Name: "STRONGBOX_TLS_CERT", ValueFrom: `${TLS_SECRET}:certificate::` },
        { Name: "STRONGBOX_TLS_KEY", ValueFrom: `${TLS_SECRET}:private_key::` },
      ]);
      expect(container!.Image).toBe("public.ecr.aws/example/strongbox:1.0.0");
      expect((container!.PortMappings as Json[]).map((p) => p.ContainerPort)).toEqual([8200, 8201]);
      expect(container!.LogConfiguration).toMatchObject({ LogDriver: "awslogs", Options: { "awslogs-stream-prefix": `node${n}` } });
    }
  });

  it("share one task role and one execution role, which may read the TLS secret", () => {
    const roles = NODES.map((n) => taskDefinition(n).Properties).map((task) => [referencedId(task.TaskRoleArn), referencedId(task.ExecutionRoleArn)]);
    expect(new Set(roles.map((pair) => pair.join()))).toEqual(new Set([roles[0]!.join()]));
    expect(roleStatements(template, roles[0]![1]!)).toContainEqual(
      expect.objectContaining({ Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Resource: TLS_SECRET }),
    );
  });

  it("has no registration function, event rule or Lambda role left", () => {
    expect(resourcesOfType(template, "AWS::Lambda::Function")).toEqual([]);
    // The one rule watches the seal key (custody.test.ts).
    expect(resourcesOfType(template, "AWS::Events::Rule").map((rule) => rule.id)).toEqual([expect.stringMatching(/^SealKeyEvents/)]);
    const roles = resourcesOfType(template, "AWS::IAM::Role").map((role) => role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service);
    expect(roles).not.toContain("lambda.amazonaws.com");
  });
});

describe("draining a stopping node", () => {
  it("keeps the load balancer's connections open through deregistration, for 30 s", () => {
    for (const group of resourcesOfType(template, "AWS::ElasticLoadBalancingV2::TargetGroup")) {
      const attributes = Object.fromEntries((group.Properties.TargetGroupAttributes as Json[]).map((a) => [a.Key, a.Value]));
      expect(attributes["deregistration_delay.connection_termination.enabled"]).toBe("false");
      expect(attributes["deregistration_delay.timeout_seconds"]).toBe("30");
    }
    expect(DEREGISTRATION_DELAY_SECONDS).toBeGreaterThanOrEqual(30);
  });

  it("SIGKILLs only after the node's shutdown_delay and its drain (test/infra/entrypoint.test.ts reads shutdown_delay)", () => {
    // The health check's interval × unhealthy threshold.
    expect(SHUTDOWN_DELAY_SECONDS).toBe(30);
    for (const n of NODES) {
      const [container] = taskDefinition(n).Properties.ContainerDefinitions as Json[];
      expect(container!.StopTimeout).toBe(STOP_TIMEOUT_SECONDS);
    }
    expect(STOP_TIMEOUT_SECONDS).toBe(90);
    expect(STOP_TIMEOUT_SECONDS).toBeGreaterThan(SHUTDOWN_DELAY_SECONDS + DRAIN_TIMEOUT_MS / 1000);
    // Fargate's ceiling: a larger stopTimeout fails the deployment.
    expect(STOP_TIMEOUT_SECONDS).toBeLessThanOrEqual(120);
  });
});

describe("load balancer", () => {
  it("health-checks every target group alike: sys/health over HTTPS with standbyok, 200 only, 10 s × 3 to fail, PROXY v2 on", () => {
    const groups = resourcesOfType(template, "AWS::ElasticLoadBalancingV2::TargetGroup");
    expect(groups.map((group) => group.id.replace(/[0-9A-F]{8}$/, ""))).toEqual(["ServingNodes", "Node1Targets", "Node2Targets", "Node3Targets"]);
    for (const group of groups) {
      expect(group.Properties).toEqual({
        Port: 8200,
        Protocol: "TCP",
        TargetType: "ip",
        VpcId: { Ref: onlyResource(template, "AWS::EC2::VPC").id },
        HealthCheckProtocol: "HTTPS",
        HealthCheckPath: { "Fn::If": ["ClusterIsInitialized", HEALTH_CHECK_PATH, HEALTH_CHECK_PATH_BEFORE_INIT] },
        Matcher: { HttpCode: "200" },
        HealthCheckIntervalSeconds: 10,
        HealthCheckTimeoutSeconds: 6,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 3,
        TargetGroupAttributes: [
          { Key: "deregistration_delay.timeout_seconds", Value: "30" },
          { Key: "proxy_protocol_v2.enabled", Value: "true" },
          { Key: "preserve_client_ip.enabled", Value: "false" },
          { Key: "deregistration_delay.connection_termination.enabled", Value: "false" },
        ],
      });
    }
    expect(HEALTH_CHECK_PATH).toBe("/v1/sys/health?standbyok=true&perfstandbyok=true");
    expect(HEALTH_CHECK_PATH_BEFORE_INIT).toBe("/v1/sys/health?standbyok=true&perfstandbyok=true&uninitcode=200");
  });

  it("counts an uninitialised node as healthy only until the ClusterInitialized parameter is true", () => {
    expect(template.Parameters.ClusterInitialized).toEqual({
      Type: "String",
      AllowedValues: ["false", "true"],
      Default: "false",
      Description: expect.stringContaining("true once `operator init` has run"),
    });
    expect(template.Conditions.ClusterIsInitialized).toEqual({ "Fn::Equals": [{ Ref: "ClusterInitialized" }, "true"] });
  });

  it("listens on 8200 for any node and on 8211-8213 for one node each; internal, across zones", () => {
    const listeners = resourcesOfType(template, "AWS::ElasticLoadBalancingV2::Listener").map((listener) => listener.Properties);
    const balancer = onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer");
    expect(
      listeners.map((listener) => [
        listener.Port,
        listener.Protocol,
        referencedId(listener.LoadBalancerArn),
        referencedId(listener.DefaultActions[0].TargetGroupArn),
      ]),
    ).toEqual([
      [8200, "TCP", balancer.id, targetGroup("ServingNodes").id],
      ...NODES.map((n) => [8210 + n, "TCP", balancer.id, targetGroup(`Node${n}Targets`).id]),
    ]);
    expect(balancer.Properties.Type).toBe("network");
    expect(balancer.Properties.Scheme).toBe("internal");
    expect(balancer.Properties.LoadBalancerAttributes).toContainEqual({ Key: "load_balancing.cross_zone.enabled", Value: "true" });
    expect(resourcesOfType(template, "AWS::Route53::RecordSet")).toEqual([]);
  });
});

describe("security groups", () => {
  const taskGroup = () => referencedId(service(1).Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups[0])!;
  const balancerGroup = () => referencedId(onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").Properties.SecurityGroups[0])!;

  it("puts every node in the same group", () => {
    for (const n of NODES)
      expect(service(n).Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups).toEqual([{ "Fn::GetAtt": [taskGroup(), "GroupId"] }]);
  });

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
  });

  it("opens 8200 on the tasks to the load balancer only; the load balancer's API and node ports to the clients", () => {
    const ingress = resourcesOfType(template, "AWS::EC2::SecurityGroupIngress").map((r) => r.Properties);
    expect(ingress.filter((r) => r.FromPort === 8200)).toEqual([
      {
        IpProtocol: "tcp",
        FromPort: 8200,
        ToPort: 8200,
        Description: expect.any(String),
        GroupId: { "Fn::GetAtt": [taskGroup(), "GroupId"] },
        SourceSecurityGroupId: { "Fn::GetAtt": [balancerGroup(), "GroupId"] },
      },
    ]);
    expect(template.Resources[taskGroup()].Properties.SecurityGroupIngress).toBeUndefined();
    const clientRules = (template.Resources[balancerGroup()].Properties.SecurityGroupIngress as Json[]).map((r) => [
      r.CidrIp,
      r.IpProtocol,
      r.FromPort,
      r.ToPort,
    ]);
    expect(clientRules).toEqual([
      [vpcCidr(), "tcp", 8200, 8200],
      [vpcCidr(), "tcp", 8211, 8213],
    ]);
  });
});

it("outputs the API URL, each node's api_addr, the region, the table and the bucket", () => {
  const outputs = template.Outputs as Json;
  expect(outputs.ApiUrl.Value).toBe("https://vault.example.com:8200");
  expect(outputs.NodeApiAddrs.Value).toBe("https://vault.example.com:8211 https://vault.example.com:8212 https://vault.example.com:8213");
  expect(outputs.LoadBalancerDnsName.Value).toEqual({ "Fn::GetAtt": [onlyResource(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").id, "DNSName"] });
  expect(outputs.Region.Value).toBe("eu-west-1");
  expect(outputs.TableName.Value).toEqual({ Ref: onlyResource(template, "AWS::DynamoDB::Table").id });
  expect(outputs.BucketName.Value).toEqual({ Ref: dataBucket().id });
  expect(outputs.ServiceNames.Value).toEqual({ "Fn::Join": [" ", NODES.map((n) => ({ "Fn::GetAtt": [service(n).id, "Name"] }))] });
  expect(outputs.EdgeReaderUser).toBeUndefined();
  expect(outputs.EdgeReaderSecretArn).toBeUndefined();
});
