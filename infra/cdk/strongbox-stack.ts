/**
 * An HA Strongbox cluster on ECS Fargate: data in S3 (SSE-KMS), the HA lock in DynamoDB, N tasks
 * across the VPC's availability zones, and a Network Load Balancer in front of every task that can
 * serve.
 *
 * Tasks auto-unseal (KMS), so every running task is either the active node or an unsealed standby
 * that forwards to it. The health check counts both as healthy (`standbyok`), and a sealed or
 * draining node as unhealthy (503), so ECS owns the target group: it registers each task, waits
 * for it to turn healthy during deployments, replaces a task that stays sealed, and deregisters a
 * task before stopping it.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { strongboxImage } from "./image.js";

const API_PORT = 8200;
/**
 * 200 from the active node and from unsealed standbys (they forward to the active); 503 from a
 * sealed or draining node. An uninitialised cluster counts as healthy, so the first deployment
 * completes and `operator init` works through the load balancer; its nodes unseal themselves right
 * after init.
 */
export const HEALTH_CHECK_PATH = "/v1/sys/health?standbyok=true&perfstandbyok=true&uninitcode=200";
const CLUSTER_PORT = 8201;

/** The partition holding the HA lock records (src/physical/dynamodb-lock-item.ts `LOCK_PARTITION`). */
export const LOCK_PARTITION = "/lock";

type Grantee = "table" | "bucket" | "objects";

/**
 * Every AWS SDK command the storage backends (src/physical/dynamodb.ts, s3.ts) send, with the IAM
 * actions it needs and what it acts on. The task role gets exactly these; test/infra checks the
 * list against the commands in the sources, so a new call fails the tests until it is listed here.
 */
export const BACKEND_PERMISSIONS: Record<string, { actions: string[]; on: Grantee }> = {
  DescribeTableCommand: { actions: ["dynamodb:DescribeTable"], on: "table" },
  GetItemCommand: { actions: ["dynamodb:GetItem"], on: "table" },
  PutItemCommand: { actions: ["dynamodb:PutItem"], on: "table" },
  DeleteItemCommand: { actions: ["dynamodb:DeleteItem"], on: "table" },
  UpdateItemCommand: { actions: ["dynamodb:UpdateItem"], on: "table" },
  QueryCommand: { actions: ["dynamodb:Query"], on: "table" },
  BatchWriteItemCommand: { actions: ["dynamodb:BatchWriteItem"], on: "table" },
  // IAM authorises each part of a transaction by its own action; fenced writes are a
  // ConditionCheck on the lock record plus a Put or a Delete.
  TransactWriteItemsCommand: { actions: ["dynamodb:ConditionCheckItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], on: "table" },
  HeadBucketCommand: { actions: ["s3:ListBucket"], on: "bucket" },
  ListObjectsV2Command: { actions: ["s3:ListBucket"], on: "bucket" },
  GetObjectCommand: { actions: ["s3:GetObject"], on: "objects" },
  PutObjectCommand: { actions: ["s3:PutObject"], on: "objects" },
  DeleteObjectCommand: { actions: ["s3:DeleteObject"], on: "objects" },
};

/** Commands the backends can send that the task role deliberately may not, and why. */
export const COMMANDS_NOT_GRANTED: Record<string, string> = {
  CreateTableCommand: "the stack creates the table; a node only checks it exists with the right key schema",
};

/** S3 calls KMS on the node's behalf for the bucket's default encryption: PutObject and GetObject. */
export const KMS_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"];
/** What `seal "awskms"` does with its key (src/seal/awskms.ts): describe it, encrypt at init, decrypt at unseal. */
export const SEAL_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt"];

export interface StrongboxStackProps extends StackProps {
  /**
   * A prebuilt Strongbox image (e.g. "123456789012.dkr.ecr.eu-west-1.amazonaws.com/strongbox:1.0").
   * Default: build infra/Dockerfile from this repository at deploy time (needs Docker then).
   */
  image?: string;
  /** Tasks in the service; one is active, the others standby. Default 3. */
  taskCount?: number;
  /** Fargate CPU units per task. Default 512. */
  cpu?: number;
  /** Memory per task in MiB. Default 1024. */
  memoryMiB?: number;
  /** Deploy into this existing VPC (it needs private subnets with egress) instead of a new one. */
  vpcId?: string;
  /** Who may reach port 8200 on the load balancer and on the tasks. Default: the VPC's CIDR. */
  clientCidrs?: string[];
  /** Give the load balancer a public address. Default false. */
  internetFacing?: boolean;
  /**
   * Complete ARN of a Secrets Manager secret holding JSON `{"certificate": PEM, "private_key": PEM}`.
   * With it the nodes serve TLS themselves (the load balancer passes TCP through); without it, HTTP.
   */
  tlsSecretArn?: string;
  /** Create an IAM user that may only read the lock records, for the edge Worker. Default false. */
  edgeReader?: boolean;
}

export class StrongboxStack extends Stack {
  constructor(scope: Construct, id: string, props: StrongboxStackProps) {
    super(scope, id, props);
    const taskCount = props.taskCount ?? 3;
    const tls = props.tlsSecretArn !== undefined;

    const vpc = props.vpcId
      ? ec2.Vpc.fromLookup(this, "Vpc", { vpcId: props.vpcId })
      : new ec2.Vpc(this, "Vpc", {
          maxAzs: 3,
          natGateways: 1,
          subnetConfiguration: [
            { name: "public", subnetType: ec2.SubnetType.PUBLIC },
            { name: "tasks", subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
          ],
          // Storage and lock traffic stays off the NAT gateway.
          gatewayEndpoints: {
            S3: { service: ec2.GatewayVpcEndpointAwsService.S3 },
            DynamoDB: { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB },
          },
        });
    const clientPeers = (props.clientCidrs ?? [vpc.vpcCidrBlock]).map((cidr) => ec2.Peer.ipv4(cidr));

    const table = new dynamodb.Table(this, "LockTable", {
      // Exactly the schema src/physical/dynamodb.ts checks for.
      partitionKey: { name: "Path", type: dynamodb.AttributeType.STRING },
      sortKey: { name: "Key", type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const dataKey = new kms.Key(this, "DataKey", {
      description: "Strongbox: encrypts the data bucket",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const bucket = new s3.Bucket(this, "DataBucket", {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: dataKey,
      bucketKeyEnabled: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Old versions are for recovering from a bad write, not an archive.
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const taskRole = new iam.Role(this, "TaskRole", {
      assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
      description: "Strongbox nodes: the data bucket, its key and the lock table, nothing else",
    });
    const resources: Record<Grantee, string> = {
      table: table.tableArn,
      bucket: bucket.bucketArn,
      objects: bucket.arnForObjects("*"),
    };
    for (const on of Object.keys(resources) as Grantee[]) {
      const actions = [...new Set(Object.values(BACKEND_PERMISSIONS).filter((p) => p.on === on).flatMap((p) => p.actions))];
      taskRole.addToPolicy(new iam.PolicyStatement({ actions: actions.sort(), resources: [resources[on]] }));
    }
    taskRole.addToPolicy(new iam.PolicyStatement({ actions: KMS_ACTIONS, resources: [dataKey.keyArn] }));

    // Auto-unseal: the barrier key is encrypted under this key. Granted in the key policy only, to
    // the task role only, so no IAM policy elsewhere in the account can widen it by accident.
    const sealKey = new kms.Key(this, "SealKey", {
      description: "Strongbox: auto-unseal (seal \"awskms\") encrypts the barrier key",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    sealKey.addToResourcePolicy(
      new iam.PolicyStatement({ sid: "StrongboxTasksSeal", principals: [taskRole], actions: SEAL_KEY_ACTIONS, resources: ["*"] }),
    );

    const logGroup = new logs.LogGroup(this, "Logs", {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const taskDefinition = new ecs.FargateTaskDefinition(this, "Task", {
      cpu: props.cpu ?? 512,
      memoryLimitMiB: props.memoryMiB ?? 1024,
      taskRole,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    const tlsSecret = props.tlsSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, "TlsSecret", props.tlsSecretArn)
      : undefined;
    taskDefinition.addContainer("strongbox", {
      image: strongboxImage(this, props.image),
      essential: true,
      environment: {
        AWS_S3_BUCKET: bucket.bucketName,
        AWS_DYNAMODB_TABLE: table.tableName,
        AWS_REGION: this.region,
        // The `seal "awskms"` stanza in infra/strongbox.hcl takes its key from here.
        VAULT_AWSKMS_SEAL_KEY_ID: sealKey.keyArn,
      },
      // The entrypoint writes these to files for the listener (infra/entrypoint.mjs).
      secrets: tlsSecret && {
        STRONGBOX_TLS_CERT: ecs.Secret.fromSecretsManager(tlsSecret, "certificate"),
        STRONGBOX_TLS_KEY: ecs.Secret.fromSecretsManager(tlsSecret, "private_key"),
      },
      portMappings: [{ containerPort: API_PORT }, { containerPort: CLUSTER_PORT }],
      logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: "strongbox" }),
    });

    const loadBalancerGroup = new ec2.SecurityGroup(this, "LoadBalancerSecurityGroup", {
      vpc,
      description: "Strongbox load balancer: API clients in",
      allowAllOutbound: false,
    });
    const taskGroup = new ec2.SecurityGroup(this, "TaskSecurityGroup", {
      vpc,
      description: "Strongbox tasks: API from the load balancer and clients, cluster port between tasks only",
      allowAllOutbound: false,
    });
    for (const peer of clientPeers) {
      loadBalancerGroup.addIngressRule(peer, ec2.Port.tcp(API_PORT), "API clients");
      // Clients reach a task directly to init and unseal it, and when a standby redirects them.
      taskGroup.addIngressRule(peer, ec2.Port.tcp(API_PORT), "API clients, directly");
    }
    loadBalancerGroup.addEgressRule(taskGroup, ec2.Port.tcp(API_PORT), "to the tasks, and health checks");
    taskGroup.addIngressRule(loadBalancerGroup, ec2.Port.tcp(API_PORT), "load balancer traffic and health checks");
    taskGroup.connections.allowInternally(ec2.Port.tcp(CLUSTER_PORT), "request forwarding between nodes (mTLS)");
    taskGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "AWS APIs: S3, DynamoDB, ECR, CloudWatch Logs, Secrets Manager");

    const cluster = new ecs.Cluster(this, "Cluster", { vpc });
    const service = new ecs.FargateService(this, "Service", {
      cluster,
      taskDefinition,
      desiredCount: taskCount,
      // ECS spreads a service's Fargate tasks across the subnets' availability zones.
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [taskGroup],
      assignPublicIp: false,
      platformVersion: ecs.FargatePlatformVersion.LATEST,
      // Start new tasks before stopping old ones: the old ones keep serving until the new ones are healthy.
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { rollback: true },
      // Starting and auto-unsealing (one KMS call) take seconds; KMS refusing keeps a task sealed, and then it is replaced.
      healthCheckGracePeriod: Duration.seconds(60),
    });

    const loadBalancer = new elbv2.NetworkLoadBalancer(this, "LoadBalancer", {
      vpc,
      internetFacing: props.internetFacing ?? false,
      securityGroups: [loadBalancerGroup],
      // The one healthy target sits in one zone; every zone's load balancer node must reach it.
      crossZoneEnabled: true,
    });
    const servingNodes = new elbv2.NetworkTargetGroup(this, "ServingNodes", {
      vpc,
      port: API_PORT,
      protocol: elbv2.Protocol.TCP,
      targetType: elbv2.TargetType.IP,
      // ECS deregisters a stopping task first; it gets SIGTERM (and releases the lock) after this.
      deregistrationDelay: Duration.seconds(10),
      connectionTermination: true,
      healthCheck: {
        protocol: tls ? elbv2.Protocol.HTTPS : elbv2.Protocol.HTTP,
        path: HEALTH_CHECK_PATH,
        healthyHttpCodes: "200",
        interval: Duration.seconds(5),
        timeout: Duration.seconds(2),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      targets: [service.loadBalancerTarget({ containerName: "strongbox", containerPort: API_PORT })],
    });
    loadBalancer.addListener("Api", { port: API_PORT, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [servingNodes] });

    if (props.edgeReader) {
      const edgeReader = new iam.User(this, "EdgeLockReader");
      edgeReader.addToPolicy(
        new iam.PolicyStatement({
          actions: ["dynamodb:GetItem"],
          resources: [table.tableArn],
          conditions: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [LOCK_PARTITION] } },
        }),
      );
      new CfnOutput(this, "EdgeReaderUser", {
        value: edgeReader.userName,
        description: "IAM user for the edge Worker (read the HA lock only); create its access key with aws iam create-access-key",
      });
    }

    const scheme = tls ? "https" : "http";
    new CfnOutput(this, "ApiUrl", { value: `${scheme}://${loadBalancer.loadBalancerDnsName}:${API_PORT}`, description: "VAULT_ADDR (the active node)" });
    new CfnOutput(this, "TableName", { value: table.tableName, description: "DynamoDB table holding the HA lock" });
    new CfnOutput(this, "BucketName", { value: bucket.bucketName, description: "S3 bucket holding the encrypted data" });
    new CfnOutput(this, "ClusterName", { value: cluster.clusterName });
    new CfnOutput(this, "ServiceName", { value: service.serviceName });
    new CfnOutput(this, "LogGroupName", { value: logGroup.logGroupName });
  }
}
