/**
 * Custody and operations on the synthesised template: who may use the seal key and read the data,
 * the alarms, metrics collection, audit logging that fails closed, the network, backups.
 */
import { readFileSync } from "node:fs";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BACKUP_RETENTION_DAYS,
  BUCKET_DATA_ACTIONS,
  SEAL_KEY_ACTIONS,
  SEAL_KEY_ADMIN_ACTIONS,
  SEAL_KEY_WATCHED_EVENTS,
  SealKeyReplicaStack,
} from "../../infra/cdk/custody.js";
import { EXPORTED_METRICS, METRICS_PORT, NO_ACTIVE_NODE_SECONDS } from "../../infra/cdk/monitoring.js";
import { readOptions } from "../../infra/cdk/options.js";
import { StrongboxStack, type StrongboxStackProps } from "../../infra/cdk/strongbox-stack.js";
import { type Json, referencedId, resourcesOfType } from "./template.js";

const ENV = { account: "111122223333", region: "eu-west-1" };
const BREAK_GLASS = "arn:aws:iam::111122223333:role/strongbox-break-glass";
const COPY_VAULT = "arn:aws:backup:eu-central-1:111122223333:backup-vault:strongbox-copy";

function synth(props: Partial<StrongboxStackProps> = {}): Json {
  const app = new App({ context: JSON.parse(readFileSync("infra/cdk/cdk.json", "utf8")).context });
  const stack = new StrongboxStack(app, "Strongbox", {
    env: ENV,
    image: "public.ecr.aws/example/strongbox:1.0.0",
    tlsSecretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls-Ab12Cd",
    domainName: "vault.example.com",
    ...props,
  });
  return Template.fromStack(stack).toJSON();
}

const sealKey = (template: Json) => resourcesOfType(template, "AWS::KMS::Key").find((key) => key.Properties.Description.includes("auto-unseal"))!;
const dataBucket = (template: Json) => resourcesOfType(template, "AWS::S3::Bucket").find((bucket) => bucket.id.startsWith("DataBucket"))!;
const taskRoleId = (template: Json) => referencedId(resourcesOfType(template, "AWS::ECS::TaskDefinition")[0]!.Properties.TaskRoleArn)!;
const statementsOf = (key: { Properties: Json }) => key.Properties.KeyPolicy.Statement as Json[];
const principalsOf = (statement: Json) => [statement.Principal.AWS].flat();
/** A principal that is the account root, however CDK spells it. */
const isAccountRoot = (principal: unknown) => /:root"/.test(JSON.stringify(principal)) || principal === ENV.account;

let template: Json;
let withOptions: Json;

beforeAll(() => {
  template = synth();
  withOptions = synth({ breakGlassRoleArn: BREAK_GLASS, backup: true, backupCopyVaultArn: COPY_VAULT, singleNatGateway: true });
});

describe("seal key policy", () => {
  it("lets no statement give the account root kms:Decrypt, kms:* or any use of the key", () => {
    for (const t of [template, withOptions]) {
      const forRoot = statementsOf(sealKey(t)).filter((statement) => principalsOf(statement).some(isAccountRoot));
      expect(forRoot).toHaveLength(1);
      const actions = [forRoot[0]!.Action].flat();
      expect(actions).toEqual(SEAL_KEY_ADMIN_ACTIONS);
      for (const use of ["kms:*", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"])
        expect(actions).not.toContain(use);
      expect(actions.some((action) => action.includes("*"))).toBe(false);
    }
  });

  it("grants Encrypt, Decrypt and DescribeKey to the task role only, or with the break-glass role too", () => {
    const users = (t: Json) => statementsOf(sealKey(t)).filter((statement) => [statement.Action].flat().includes("kms:Decrypt"));
    expect(users(template)).toEqual([
      {
        Sid: "StrongboxTasksSeal",
        Effect: "Allow",
        Principal: { AWS: { "Fn::GetAtt": [taskRoleId(template), "Arn"] } },
        Action: SEAL_KEY_ACTIONS,
        Resource: "*",
      },
    ]);
    const [both] = users(withOptions);
    expect(users(withOptions)).toHaveLength(1);
    expect(both!.Principal.AWS).toEqual([{ "Fn::GetAtt": [taskRoleId(withOptions), "Arn"] }, BREAK_GLASS]);
    expect(sealKey(template).Properties.MultiRegion).toBe(false);
  });

  it("is watched: an EventBridge rule for DisableKey, ScheduleKeyDeletion and PutKeyPolicy on it goes to the alarm topic, and an alarm counts them", () => {
    const [rule] = resourcesOfType(template, "AWS::Events::Rule");
    expect(rule!.Properties.EventPattern).toEqual({
      source: ["aws.kms"],
      "detail-type": ["AWS API Call via CloudTrail"],
      detail: { eventSource: ["kms.amazonaws.com"], eventName: SEAL_KEY_WATCHED_EVENTS, resources: { ARN: [{ "Fn::GetAtt": [sealKey(template).id, "Arn"] }] } },
    });
    expect(SEAL_KEY_WATCHED_EVENTS).toEqual(["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"]);
    const topic = resourcesOfType(template, "AWS::SNS::Topic")[0]!.id;
    expect(rule!.Properties.Targets.map((target: Json) => referencedId(target.Arn))).toEqual([topic]);
    const alarm = resourcesOfType(template, "AWS::CloudWatch::Alarm").find((a) => a.id.startsWith("SealKeyChangedAlarm"))!;
    expect(alarm.Properties).toMatchObject({
      Namespace: "AWS/Events",
      MetricName: "TriggeredRules",
      Dimensions: [{ Name: "RuleName", Value: { Ref: rule!.id } }],
      Threshold: 1,
    });
    expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topic }]);
    expect(template.Outputs.AlarmTopicArn.Value).toEqual({ Ref: topic });
  });

  it("can be multi-Region, with a replica stack in another region holding the same policy", () => {
    const app = new App();
    const primary = new StrongboxStack(app, "Primary", {
      env: ENV,
      image: "public.ecr.aws/example/strongbox:1.0.0",
      insecureHttp: true,
      sealKeyMultiRegion: true,
      crossRegionReferences: true,
    });
    const replica = new SealKeyReplicaStack(app, "Replica", {
      env: { ...ENV, region: "eu-central-1" },
      crossRegionReferences: true,
      primaryKeyArn: primary.sealKeyArn,
      taskRoleArn: primary.taskRoleArn,
    });
    expect(sealKey(Template.fromStack(primary).toJSON()).Properties.MultiRegion).toBe(true);
    const [replicaKey] = resourcesOfType(Template.fromStack(replica).toJSON(), "AWS::KMS::ReplicaKey");
    const statements = replicaKey!.Properties.KeyPolicy.Statement as Json[];
    expect(statements.map((statement) => statement.Sid)).toEqual(["AccountAdministersNotUses", "StrongboxTasksSeal"]);
    expect(statements[0]!.Action).toEqual(SEAL_KEY_ADMIN_ACTIONS);
  });
});

describe("data bucket", () => {
  const denyStatement = (t: Json) => {
    const policy = resourcesOfType(t, "AWS::S3::BucketPolicy").find((p) => referencedId(p.Properties.Bucket) === dataBucket(t).id)!;
    return (policy.Properties.PolicyDocument.Statement as Json[]).find((statement) => statement.Sid === "DataOnlyForStrongbox")!;
  };

  it("denies reading, writing and listing the data to every principal but the task role", () => {
    const deny = denyStatement(template);
    expect(deny).toMatchObject({ Effect: "Deny", Principal: { AWS: "*" }, Action: BUCKET_DATA_ACTIONS });
    expect(deny.Resource).toEqual([
      { "Fn::GetAtt": [dataBucket(template).id, "Arn"] },
      { "Fn::Join": ["", [{ "Fn::GetAtt": [dataBucket(template).id, "Arn"] }, "/*"]] },
    ]);
    expect(deny.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": [{ "Fn::GetAtt": [taskRoleId(template), "Arn"] }] } });
    expect(BUCKET_DATA_ACTIONS).toEqual(expect.arrayContaining(["s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:ListBucket*"]));
  });

  it("excepts the break-glass role and AWS Backup's role when they exist", () => {
    const backupRole = resourcesOfType(withOptions, "AWS::IAM::Role").find(
      (role) => role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Service === "backup.amazonaws.com",
    )!;
    expect(denyStatement(withOptions).Condition.ArnNotEquals["aws:PrincipalArn"]).toEqual([
      { "Fn::GetAtt": [taskRoleId(withOptions), "Arn"] },
      BREAK_GLASS,
      { "Fn::GetAtt": [backupRole.id, "Arn"] },
    ]);
  });

  it("writes server access logs to a bucket of their own", () => {
    const logging = dataBucket(template).Properties.LoggingConfiguration;
    const logs = resourcesOfType(template, "AWS::S3::Bucket").find((bucket) => bucket.id.startsWith("AccessLogsBucket"))!;
    expect(logging).toEqual({ DestinationBucketName: { Ref: logs.id }, LogFilePrefix: "data/" });
    expect(logs.Properties.PublicAccessBlockConfiguration).toMatchObject({ BlockPublicAcls: true, RestrictPublicBuckets: true });
    expect(template.Resources[logs.id].DeletionPolicy).toBe("Retain");
  });
});

describe("backups", () => {
  it("are off by default", () => {
    expect(resourcesOfType(template, "AWS::Backup::BackupPlan")).toEqual([]);
  });

  it("with backup: continuous backups of the bucket, kept 35 days, copied to the other region's vault", () => {
    const [plan] = resourcesOfType(withOptions, "AWS::Backup::BackupPlan");
    const [rule] = plan!.Properties.BackupPlan.BackupPlanRule as Json[];
    expect(rule).toMatchObject({ EnableContinuousBackup: true, Lifecycle: { DeleteAfterDays: BACKUP_RETENTION_DAYS } });
    expect(rule!.CopyActions).toEqual([{ DestinationBackupVaultArn: COPY_VAULT, Lifecycle: { DeleteAfterDays: BACKUP_RETENTION_DAYS } }]);
    const [selection] = resourcesOfType(withOptions, "AWS::Backup::BackupSelection");
    expect(selection!.Properties.BackupSelection.Resources).toEqual([{ "Fn::GetAtt": [dataBucket(withOptions).id, "Arn"] }]);
  });
});

describe("network", () => {
  it("has a NAT gateway in every zone by default, one with singleNatGateway", () => {
    expect(resourcesOfType(template, "AWS::EC2::NatGateway")).toHaveLength(3);
    expect(resourcesOfType(withOptions, "AWS::EC2::NatGateway")).toHaveLength(1);
  });

  it("routes each zone's private subnet through its own zone's NAT gateway", () => {
    const nats = resourcesOfType(template, "AWS::EC2::NatGateway").map((nat) => nat.id);
    const defaultRoutes = resourcesOfType(template, "AWS::EC2::Route").filter((route) => route.Properties.NatGatewayId);
    expect(new Set(defaultRoutes.map((route) => referencedId(route.Properties.NatGatewayId)))).toEqual(new Set(nats));
  });
});

describe("alarms, metrics and dashboard", () => {
  const alarm = (prefix: string) => resourcesOfType(template, "AWS::CloudWatch::Alarm").find((a) => a.id.startsWith(prefix))!;
  const topic = () => ({ Ref: resourcesOfType(template, "AWS::SNS::Topic")[0]!.id });

  it("alarms when no node reports itself active, also when none reports at all", () => {
    const noActive = alarm("NoActiveNodeAlarm").Properties;
    expect(noActive).toMatchObject({ Namespace: "Strongbox/Strongbox", MetricName: "vault_core_active", Statistic: "Maximum", Period: 60, Threshold: 1 });
    expect(noActive.ComparisonOperator).toBe("LessThanThreshold");
    expect(noActive.EvaluationPeriods * noActive.Period).toBe(NO_ACTIVE_NODE_SECONDS);
    expect(noActive.TreatMissingData).toBe("breaching");
    expect(noActive.AlarmActions).toEqual([topic()]);
  });

  it("alarms when fewer nodes than taskCount pass the health check", () => {
    const healthy = alarm("HealthyNodesAlarm").Properties;
    expect(healthy).toMatchObject({
      Namespace: "AWS/NetworkELB",
      MetricName: "HealthyHostCount",
      Statistic: "Minimum",
      Threshold: 3,
      ComparisonOperator: "LessThanThreshold",
    });
    const servingGroup = resourcesOfType(template, "AWS::ElasticLoadBalancingV2::TargetGroup").find((g) => g.id.startsWith("ServingNodes"))!.id;
    expect(JSON.stringify(healthy.Dimensions)).toContain(servingGroup);
    expect(healthy.AlarmActions).toEqual([topic()]);
  });

  it("alarms when fewer tasks run than the services want, from Container Insights, which is on", () => {
    const running = alarm("RunningTasksAlarm").Properties;
    const metrics = (running.Metrics as Json[]).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric);
    expect(new Set(metrics.map((m: Json) => `${m.Namespace} ${m.MetricName}`))).toEqual(
      new Set(["ECS/ContainerInsights DesiredTaskCount", "ECS/ContainerInsights RunningTaskCount"]),
    );
    expect(metrics).toHaveLength(6);
    expect(running).toMatchObject({ Threshold: 0, ComparisonOperator: "GreaterThanThreshold" });
    expect(running.AlarmActions).toEqual([topic()]);
    const [cluster] = resourcesOfType(template, "AWS::ECS::Cluster");
    expect(cluster!.Properties.ClusterSettings).toEqual([{ Name: "containerInsights", Value: "enabled" }]);
  });

  it("collects each node's sys/metrics with an ADOT sidecar scraping the loopback metrics listener, into EMF", () => {
    const containers = resourcesOfType(template, "AWS::ECS::TaskDefinition")[0]!.Properties.ContainerDefinitions as Json[];
    const collector = containers.find((c) => c.Name === "metrics")!;
    expect(collector.Essential).toBe(false);
    const raw = JSON.stringify(collector.Environment);
    expect(raw).toContain(`127.0.0.1:${METRICS_PORT}`);
    expect(raw).toContain("/v1/sys/metrics");
    for (const name of ["vault_core_active", "vault_core_unsealed"]) expect(EXPORTED_METRICS).toContain(name);
    // The entrypoint writes that listener (test/infra/entrypoint.test.ts checks the server accepts it).
    expect(readFileSync("infra/entrypoint.mjs", "utf8")).toContain(`const METRICS_PORT = ${METRICS_PORT};`);
  });

  it("has a dashboard showing every alarm", () => {
    const [dashboard] = resourcesOfType(template, "AWS::CloudWatch::Dashboard");
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const a of resourcesOfType(template, "AWS::CloudWatch::Alarm")) expect(body).toContain(a.id);
  });
});

describe("audit on Fargate", () => {
  it("ships the node's stdout to CloudWatch Logs in blocking mode, so an entry that cannot be written holds the request", () => {
    for (const task of resourcesOfType(template, "AWS::ECS::TaskDefinition")) {
      const node = (task.Properties.ContainerDefinitions as Json[]).find((c) => c.Name === "strongbox")!;
      expect(node.LogConfiguration).toMatchObject({ LogDriver: "awslogs", Options: { mode: "blocking" } });
    }
  });
});

describe("custody options from context", () => {
  const read = (context: Record<string, string>) => readOptions((key) => (({ insecureHttp: "true", ...context }) as Record<string, string>)[key]);

  it("reads the break-glass role, the NAT layout, backups, the copy vault and the replica region", () => {
    expect(
      read({ breakGlassRoleArn: BREAK_GLASS, singleNatGateway: "true", backup: "true", backupCopyVaultArn: COPY_VAULT, sealKeyReplicaRegion: "eu-central-1" }),
    ).toEqual({
      stackName: "Strongbox",
      insecureHttp: true,
      breakGlassRoleArn: BREAK_GLASS,
      singleNatGateway: true,
      backup: true,
      backupCopyVaultArn: COPY_VAULT,
      sealKeyReplicaRegion: "eu-central-1",
      sealKeyMultiRegion: true,
    });
  });

  it("refuses bad values, naming the key and what is allowed", () => {
    expect(() => read({ breakGlassRoleArn: "admin" })).toThrow('context "breakGlassRoleArn" = "admin" is not allowed: use a role ARN');
    expect(() => read({ backupCopyVaultArn: COPY_VAULT })).toThrow('context "backup" is required: set it to true with backupCopyVaultArn');
    expect(() => read({ backup: "true", backupCopyVaultArn: "vault" })).toThrow(
      'context "backupCopyVaultArn" = "vault" is not allowed: use a backup vault ARN',
    );
    expect(() => read({ sealKeyReplicaRegion: "europe" })).toThrow('context "sealKeyReplicaRegion" = "europe" is not allowed: use a region name');
    expect(() => read({ singleNatGateway: "maybe" })).toThrow('context "singleNatGateway" = "maybe" is not allowed: use true or false');
  });
});
