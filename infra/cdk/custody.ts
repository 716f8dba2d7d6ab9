/**
 * Who may use the seal key and read the data bucket, who hears when either is tampered with, and
 * the backups that outlive a bad day: the custody half of the stack (infra/README.md, "Custody").
 */
import { Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as backup from "aws-cdk-lib/aws-backup";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as sns from "aws-cdk-lib/aws-sns";
import { Construct } from "constructs";

/** What `seal "awskms"` does with its key (src/seal/awskms.ts): describe it, encrypt at init, decrypt at unseal. */
export const SEAL_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"];

/**
 * What the account's administrators may do with the seal key: everything that manages it, nothing
 * that uses it. Listed one by one, so a new KMS action is not granted by a wildcard.
 */
export const SEAL_KEY_ADMIN_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:CreateGrant",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:ReplicateKey",
  "kms:RetireGrant",
  "kms:RevokeGrant",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];

/** CloudTrail events on the seal key that could lock the cluster out of its data, or let someone else in. */
export const SEAL_KEY_WATCHED_EVENTS = ["DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy"];

/** Object and listing actions the bucket policy keeps to the nodes, the break-glass role and AWS Backup. */
export const BUCKET_DATA_ACTIONS = ["s3:DeleteObject*", "s3:GetObject*", "s3:ListBucket*", "s3:PutObject*", "s3:RestoreObject"];

/** How long AWS Backup keeps continuous (point-in-time) backups of the bucket: its maximum. */
export const BACKUP_RETENTION_DAYS = 35;

export interface SealKeyProps {
  taskRole: iam.IRole;
  /** ARN of a role that may use the key besides the nodes (a human break-glass path). */
  breakGlassRoleArn?: string;
  /** A multi-Region key, so a replica can be made in another region. Only when the key is created. */
  multiRegion: boolean;
}

/**
 * The seal key with its whole policy written here: CDK's default policy would give the account
 * root `kms:*`, letting any principal with an IAM `kms:*` grant decrypt the barrier key.
 */
export function sealKey(scope: Construct, props: SealKeyProps): kms.Key {
  const key = new kms.Key(scope, "SealKey", {
    description: 'Strongbox: auto-unseal (seal "awskms") encrypts the barrier key',
    enableKeyRotation: true,
    multiRegion: props.multiRegion,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  (key.node.defaultChild as kms.CfnKey).keyPolicy = sealKeyPolicy(props.taskRole.roleArn, props.breakGlassRoleArn);
  return key;
}

export function sealKeyPolicy(taskRoleArn: string, breakGlassRoleArn?: string): iam.PolicyDocument {
  const users = [new iam.ArnPrincipal(taskRoleArn), ...(breakGlassRoleArn ? [new iam.ArnPrincipal(breakGlassRoleArn)] : [])];
  return new iam.PolicyDocument({
    statements: [
      new iam.PolicyStatement({
        sid: "AccountAdministersNotUses",
        principals: [new iam.AccountRootPrincipal()],
        actions: SEAL_KEY_ADMIN_ACTIONS,
        resources: ["*"],
      }),
      new iam.PolicyStatement({ sid: "StrongboxTasksSeal", principals: users, actions: SEAL_KEY_ACTIONS, resources: ["*"] }),
    ],
  });
}

/** A replica of the seal key in another region (its own stack there), for a cluster restored in that region. */
export class SealKeyReplicaStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps & { primaryKeyArn: string; taskRoleArn: string; breakGlassRoleArn?: string }) {
    super(scope, id, props);
    new kms.CfnReplicaKey(this, "SealKeyReplica", {
      primaryKeyArn: props.primaryKeyArn,
      description: "Strongbox: replica of the seal key, for restoring the cluster in this region",
      keyPolicy: sealKeyPolicy(props.taskRoleArn, props.breakGlassRoleArn).toJSON(),
    });
  }
}

/** Deny data access to every principal but the named roles, whatever their IAM policies say. */
export function restrictBucketData(bucket: s3.Bucket, allowedRoleArns: string[]): void {
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: "DataOnlyForStrongbox",
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: BUCKET_DATA_ACTIONS,
      resources: [bucket.bucketArn, bucket.arnForObjects("*")],
      conditions: { ArnNotEquals: { "aws:PrincipalArn": allowedRoleArns } },
    }),
  );
}

/** An EventBridge rule for the watched seal key events, to the topic, and an alarm counting them. */
export function watchSealKey(scope: Construct, key: kms.IKey, topic: sns.ITopic): cloudwatch.Alarm {
  const rule = new events.Rule(scope, "SealKeyEvents", {
    description: "Strongbox: the seal key was disabled, scheduled for deletion or given a new policy",
    eventPattern: {
      source: ["aws.kms"],
      detailType: ["AWS API Call via CloudTrail"],
      detail: { eventSource: ["kms.amazonaws.com"], eventName: SEAL_KEY_WATCHED_EVENTS, resources: { ARN: [key.keyArn] } },
    },
    targets: [new targets.SnsTopic(topic)],
  });
  const alarm = new cloudwatch.Alarm(scope, "SealKeyChangedAlarm", {
    alarmDescription: "The seal key was disabled, scheduled for deletion or given a new policy: check CloudTrail now",
    metric: new cloudwatch.Metric({
      namespace: "AWS/Events",
      metricName: "TriggeredRules",
      dimensionsMap: { RuleName: rule.ruleName },
      statistic: "Sum",
      period: Duration.minutes(1),
    }),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(new actions.SnsAction(topic));
  return alarm;
}

/** AWS Backup: continuous backups of the bucket, optionally copied to a vault in another region. */
export class BucketBackup extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: { bucket: s3.Bucket; dataKey: kms.Key; copyVaultArn?: string }) {
    super(scope, id);
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("backup.amazonaws.com"),
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName("AWSBackupServiceRolePolicyForS3Backup"),
        iam.ManagedPolicy.fromAwsManagedPolicyName("AWSBackupServiceRolePolicyForS3Restore"),
      ],
    });
    props.dataKey.grantEncryptDecrypt(this.role);
    const vault = new backup.BackupVault(this, "Vault", { removalPolicy: RemovalPolicy.RETAIN });
    const plan = new backup.BackupPlan(this, "Plan", {
      backupPlanRules: [
        new backup.BackupPlanRule({
          ruleName: "Continuous",
          backupVault: vault,
          enableContinuousBackup: true,
          deleteAfter: Duration.days(BACKUP_RETENTION_DAYS),
          copyActions: props.copyVaultArn
            ? [
                {
                  destinationBackupVault: backup.BackupVault.fromBackupVaultArn(this, "CopyVault", props.copyVaultArn),
                  deleteAfter: Duration.days(BACKUP_RETENTION_DAYS),
                },
              ]
            : undefined,
        }),
      ],
    });
    plan.addSelection("Bucket", { resources: [backup.BackupResource.fromArn(props.bucket.bucketArn)], role: this.role, allowRestores: true });
  }
}
