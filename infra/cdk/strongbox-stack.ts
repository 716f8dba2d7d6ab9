/**
 * An HA Strongbox cluster on ECS Fargate: data in S3 (SSE-KMS), the HA lock in DynamoDB, N nodes
 * across the VPC's availability zones, and a Network Load Balancer in front of every node that can
 * serve.
 *
 * Tasks auto-unseal (KMS), so every running task is either the active node or an unsealed standby
 * that answers reads and forwards the rest to it. The health check counts both as healthy
 * (`standbyok`, `perfstandbyok`), and a sealed or
 * draining node as unhealthy (503), so ECS owns the target groups: it registers each task, waits
 * for it to turn healthy during deployments, replaces a task that stays sealed, and deregisters a
 * task before stopping it.
 *
 * Each node is an ECS service of one task with a load balancer port of its own (8211, 8212, …) and
 * advertises `https://<domainName>:<that port>` as its api_addr: a name the certificate holds and
 * an address every client that reaches the API port reaches too, so the edge's and the standbys'
 * 307s to the active can be followed from wherever the client is.
 */
import { CfnCondition, CfnOutput, CfnParameter, Duration, Fn, RemovalPolicy, SecretValue, Stack, type StackProps } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as ecs from "aws-cdk-lib/aws-ecs";
import * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as route53 from "aws-cdk-lib/aws-route53";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { BucketBackup, restrictBucketData, sealKey as createSealKey, watchSealKey } from "./custody.js";
import { alarmsAndDashboard, COLLECTOR_IMAGE, COLLECTOR_LOG_ACTIONS, collectorConfig } from "./monitoring.js";
import { strongboxImage } from "./image.js";

const API_PORT = 8200;
const CLUSTER_PORT = 8201;
/** Node n (from 1) has load balancer port NODE_PORT_BASE + n, forwarded to its task's API port. */
const NODE_PORT_BASE = 8210;

/**
 * 200 from the active node and from unsealed standbys (they forward to the active); 503 from a
 * sealed or draining node, 501 from an uninitialised one. The answer comes from the node's memory,
 * so a storage or KMS outage does not fail it on a running node.
 */
export const HEALTH_CHECK_PATH = "/v1/sys/health?standbyok=true&perfstandbyok=true";
/**
 * Until the `ClusterInitialized` parameter says otherwise, an uninitialised node passes too, so the
 * first deployment completes and `operator init` works through the load balancer. Afterwards a node
 * that finds no cluster in storage (an empty or wrong bucket) fails, and ECS rolls back or replaces it.
 */
export const HEALTH_CHECK_PATH_BEFORE_INIT = `${HEALTH_CHECK_PATH}&uninitcode=200`;

/**
 * The health check's timings (seconds, counts). A target is out after `unhealthyThreshold` failed checks, so a
 * slow answer or two does not pull a serving node; a crashed task needs no check, as ECS
 * deregisters it when it stops.
 */
const HEALTH_CHECK = { intervalSeconds: 10, timeoutSeconds: 6, healthyThreshold: 2, unhealthyThreshold: 3 };
/**
 * ECS ignores the load balancer's verdict this long after a task starts: image pull, start and
 * auto-unseal take seconds, and a starting task that meets a KMS or storage outage keeps retrying
 * for this long before ECS replaces it.
 */
const HEALTH_CHECK_GRACE_SECONDS = 300;
/**
 * ECS deregisters a task, waits this long with the task still serving the connections it has (no
 * connection termination), and only then sends SIGTERM.
 */
export const DEREGISTRATION_DELAY_SECONDS = 30;
/**
 * `shutdown_delay` in infra/strongbox.hcl: after SIGTERM the node reports draining and keeps
 * serving for as long as the health check takes to notice (interval × unhealthy threshold), for a
 * SIGTERM that did not come after a deregistration.
 */
export const SHUTDOWN_DELAY_SECONDS = HEALTH_CHECK.intervalSeconds * HEALTH_CHECK.unhealthyThreshold;
/**
 * SIGKILL comes this long after SIGTERM: the shutdown delay, then up to 10 s for the requests inside
 * to finish (src/ha/drain.ts), then closing the listeners, with room to spare (Fargate allows 120 s).
 */
export const STOP_TIMEOUT_SECONDS = 90;

export const ACCESS_LOG_RETENTION_DAYS = 365;

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
export { SEAL_KEY_ACTIONS } from "./custody.js";

export interface StrongboxStackProps extends StackProps {
  /**
   * A prebuilt Strongbox image (e.g. "123456789012.dkr.ecr.eu-west-1.amazonaws.com/strongbox:1.0").
   * Default: build infra/Dockerfile from this repository at deploy time (needs Docker then).
   */
  image?: string;
  /** Nodes (one ECS service of one task each); one is active, the others standby. Default 3. */
  taskCount?: number;
  /** Fargate CPU units per task. Default 512. */
  cpu?: number;
  /** Memory per task in MiB. Default 1024. */
  memoryMiB?: number;
  /** Deploy into this existing VPC (it needs private subnets with egress) instead of a new one. */
  vpcId?: string;
  /** Zones of a new VPC. Default: the region's first three, as CloudFormation lists them at deploy time. */
  availabilityZones?: string[];
  /** Who may reach the load balancer's ports. Default: the VPC's CIDR. */
  clientCidrs?: string[];
  /** Give the load balancer a public address. Default false. */
  internetFacing?: boolean;
  /**
   * Complete ARN of a Secrets Manager secret holding JSON `{"certificate": PEM, "private_key": PEM}`
   * for `domainName`. The nodes serve TLS themselves (the load balancer passes TCP through).
   */
  tlsSecretArn?: string;
  /** Serve plain HTTP: for throw-away test stacks only. Without it, `tlsSecretArn` is required. */
  insecureHttp?: boolean;
  /** The API's DNS name: in the certificate, in every node's api_addr. Required with `tlsSecretArn`. */
  domainName?: string;
  /** A Route 53 hosted zone in which the stack creates `domainName` as an alias of the load balancer. */
  hostedZoneId?: string;
  /** Create an IAM user that may only read the lock records, for the edge Worker. Default false. */
  edgeReader?: boolean;
  /** ARN of a role that may use the seal key and read the bucket besides the nodes (break-glass). */
  breakGlassRoleArn?: string;
  /** One NAT gateway for every zone instead of one per zone: cheaper, but a zone's failure cuts every task off from AWS APIs. */
  singleNatGateway?: boolean;
  /** AWS Backup continuous backups of the data bucket. Default false. */
  backup?: boolean;
  /** ARN of a backup vault in another region that every backup is copied to (needs `backup`). */
  backupCopyVaultArn?: string;
  /** Make the seal key multi-Region (only when it is first created), so app.ts can replicate it. */
  sealKeyMultiRegion?: boolean;
}

export class StrongboxStack extends Stack {
  readonly #zones: string[];
  /** For a replica of the seal key in another region (app.ts). */
  readonly sealKeyArn: string;
  readonly taskRoleArn: string;

  constructor(scope: Construct, id: string, props: StrongboxStackProps) {
    super(scope, id, props);
    // Access logs delivered under a bucket policy, not an ACL: the logs bucket keeps ACLs disabled.
    this.node.setContext("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", true);
    const taskCount = props.taskCount ?? 3;
    if (!props.tlsSecretArn && !props.insecureHttp) {
      throw new Error("StrongboxStack: tlsSecretArn is required (insecureHttp: true only for a throw-away test stack)");
    }
    if (props.tlsSecretArn && !props.domainName) {
      throw new Error("StrongboxStack: tlsSecretArn needs domainName, the name its certificate holds");
    }
    const tls = props.tlsSecretArn !== undefined;
    // Named explicitly, or looked up by CloudFormation at deploy time: synthesis needs no AWS credentials.
    this.#zones = props.availabilityZones ?? [0, 1, 2].map((index) => Fn.select(index, Fn.getAzs()));

    const vpc = props.vpcId
      ? ec2.Vpc.fromLookup(this, "Vpc", { vpcId: props.vpcId })
      : new ec2.Vpc(this, "Vpc", {
          availabilityZones: this.#zones,
          // A NAT gateway per zone by default: tasks in a zone whose NAT gateway is down cannot reach KMS, ECR, Logs or Secrets Manager.
          natGateways: props.singleNatGateway ? 1 : this.#zones.length,
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
    // Who read or wrote which object, kept apart from the data (server access logs need SSE-S3).
    const accessLogs = new s3.Bucket(this, "AccessLogsBucket", {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [{ expiration: Duration.days(ACCESS_LOG_RETENTION_DAYS) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    const bucket = new s3.Bucket(this, "DataBucket", {
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: "data/",
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
      const actions = [
        ...new Set(
          Object.values(BACKEND_PERMISSIONS)
            .filter((p) => p.on === on)
            .flatMap((p) => p.actions),
        ),
      ];
      taskRole.addToPolicy(new iam.PolicyStatement({ actions: actions.sort(), resources: [resources[on]] }));
    }
    taskRole.addToPolicy(new iam.PolicyStatement({ actions: KMS_ACTIONS, resources: [dataKey.keyArn] }));

    // Auto-unseal: the barrier key is encrypted under this key. Its policy (infra/cdk/custody.ts) is
    // the only grant: administrators manage it, only the task role (and a break-glass role) use it.
    const sealKey = createSealKey(this, { taskRole, breakGlassRoleArn: props.breakGlassRoleArn, multiRegion: props.sealKeyMultiRegion ?? false });
    this.sealKeyArn = sealKey.keyArn;
    this.taskRoleArn = taskRole.roleArn;
    const alarmTopic = new sns.Topic(this, "AlarmTopic", { displayName: "Strongbox alarms" });
    const sealKeyAlarm = watchSealKey(this, sealKey, alarmTopic);

    const bucketBackup = props.backup ? new BucketBackup(this, "Backup", { bucket, dataKey, copyVaultArn: props.backupCopyVaultArn }) : undefined;
    restrictBucketData(bucket, [
      taskRole.roleArn,
      ...(props.breakGlassRoleArn ? [props.breakGlassRoleArn] : []),
      ...(bucketBackup ? [bucketBackup.role.roleArn] : []),
    ]);

    const logGroup = new logs.LogGroup(this, "Logs", {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const loadBalancerGroup = new ec2.SecurityGroup(this, "LoadBalancerSecurityGroup", {
      vpc,
      description: "Strongbox load balancer: API clients in",
      allowAllOutbound: false,
    });
    const taskGroup = new ec2.SecurityGroup(this, "TaskSecurityGroup", {
      vpc,
      description: "Strongbox tasks: API from the load balancer only, cluster port between tasks only",
      allowAllOutbound: false,
    });
    const nodePorts = Array.from({ length: taskCount }, (_, index) => NODE_PORT_BASE + index + 1);
    for (const peer of clientPeers) {
      loadBalancerGroup.addIngressRule(peer, ec2.Port.tcp(API_PORT), "API clients");
      loadBalancerGroup.addIngressRule(peer, ec2.Port.tcpRange(nodePorts[0]!, nodePorts.at(-1)!), "API clients, to one node (redirects)");
    }
    loadBalancerGroup.addEgressRule(taskGroup, ec2.Port.tcp(API_PORT), "to the tasks, and health checks");
    taskGroup.addIngressRule(loadBalancerGroup, ec2.Port.tcp(API_PORT), "load balancer traffic and health checks");
    taskGroup.connections.allowInternally(ec2.Port.tcp(CLUSTER_PORT), "request forwarding between nodes (mTLS)");
    taskGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "AWS APIs: S3, DynamoDB, ECR, CloudWatch Logs, Secrets Manager");

    const loadBalancer = new elbv2.NetworkLoadBalancer(this, "LoadBalancer", {
      vpc,
      internetFacing: props.internetFacing ?? false,
      securityGroups: [loadBalancerGroup],
      // A node's own port has one healthy target, in one zone; every zone's load balancer node must reach it.
      crossZoneEnabled: true,
    });
    const scheme = tls ? "https" : "http";
    const apiHost = props.domainName ?? loadBalancer.loadBalancerDnsName;

    const clusterInitialized = new CfnParameter(this, "ClusterInitialized", {
      type: "String",
      allowedValues: ["false", "true"],
      default: "false",
      description:
        "true once `operator init` has run: from then on a node that finds no cluster in storage fails the health check. " +
        "cdk deploy keeps the value from the previous deployment unless given again.",
    });
    const initialized = new CfnCondition(this, "ClusterIsInitialized", { expression: Fn.conditionEquals(clusterInitialized.valueAsString, "true") });
    const healthCheckPath = Fn.conditionIf(initialized.logicalId, HEALTH_CHECK_PATH, HEALTH_CHECK_PATH_BEFORE_INIT).toString();
    const servingTargets = (id: string) =>
      new elbv2.NetworkTargetGroup(this, id, {
        vpc,
        port: API_PORT,
        protocol: elbv2.Protocol.TCP,
        targetType: elbv2.TargetType.IP,
        deregistrationDelay: Duration.seconds(DEREGISTRATION_DELAY_SECONDS),
        // Connections still open when the delay ends are the node's to close, once it has answered them.
        connectionTermination: false,
        // The nodes learn the client's address from the PROXY header; packets come from the load balancer.
        proxyProtocolV2: true,
        preserveClientIp: false,
        healthCheck: {
          protocol: tls ? elbv2.Protocol.HTTPS : elbv2.Protocol.HTTP,
          path: healthCheckPath,
          healthyHttpCodes: "200",
          interval: Duration.seconds(HEALTH_CHECK.intervalSeconds),
          timeout: Duration.seconds(HEALTH_CHECK.timeoutSeconds),
          healthyThresholdCount: HEALTH_CHECK.healthyThreshold,
          unhealthyThresholdCount: HEALTH_CHECK.unhealthyThreshold,
        },
      });
    const servingNodes = servingTargets("ServingNodes");
    loadBalancer.addListener("Api", { port: API_PORT, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [servingNodes] });

    const tlsSecret = props.tlsSecretArn ? secretsmanager.Secret.fromSecretCompleteArn(this, "TlsSecret", props.tlsSecretArn) : undefined;
    const image = strongboxImage(this, props.image);
    // One role for every node's task definition: ECR pulls, logs and the TLS secret.
    const executionRole = new iam.Role(this, "ExecutionRole", { assumedBy: new iam.ServicePrincipal("ecs-tasks.amazonaws.com") });
    const cluster = new ecs.Cluster(this, "Cluster", { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const metricsNamespace = `Strongbox/${this.stackName}`;
    const metricsLogGroup = new logs.LogGroup(this, "MetricsLogs", { retention: logs.RetentionDays.ONE_WEEK, removalPolicy: RemovalPolicy.DESTROY });
    taskRole.addToPolicy(new iam.PolicyStatement({ actions: COLLECTOR_LOG_ACTIONS, resources: [metricsLogGroup.logGroupArn] }));
    const services = nodePorts.map((nodePort, index) => {
      const node = `Node${index + 1}`;
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${node}Task`, {
        cpu: props.cpu ?? 512,
        memoryLimitMiB: props.memoryMiB ?? 1024,
        taskRole,
        executionRole,
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      taskDefinition.addContainer("strongbox", {
        image,
        essential: true,
        environment: {
          AWS_S3_BUCKET: bucket.bucketName,
          AWS_DYNAMODB_TABLE: table.tableName,
          AWS_REGION: this.region,
          // The `seal "awskms"` stanza in infra/strongbox.hcl takes its key from here.
          VAULT_AWSKMS_SEAL_KEY_ID: sealKey.keyArn,
          // What the edge and the standbys send clients to when this node is active.
          VAULT_API_ADDR: `${scheme}://${apiHost}:${nodePort}`,
          // The load balancer's addresses, whose PROXY headers the listener believes (infra/entrypoint.mjs).
          STRONGBOX_PROXY_PROTOCOL_AUTHORIZED_ADDRS: vpc.vpcCidrBlock,
        },
        // The entrypoint writes these to files for the listener (infra/entrypoint.mjs).
        secrets: tlsSecret && {
          STRONGBOX_TLS_CERT: ecs.Secret.fromSecretsManager(tlsSecret, "certificate"),
          STRONGBOX_TLS_KEY: ecs.Secret.fromSecretsManager(tlsSecret, "private_key"),
        },
        portMappings: [{ containerPort: API_PORT }, { containerPort: CLUSTER_PORT }],
        // Blocking: the audit device writes to stdout, so a log CloudWatch cannot take stalls the
        // node's requests (fail closed) rather than dropping audit entries.
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: node.toLowerCase(), mode: ecs.AwsLogDriverMode.BLOCKING }),
        stopTimeout: Duration.seconds(STOP_TIMEOUT_SECONDS),
      });
      // Not essential: a collector that fails costs metrics, never the node.
      taskDefinition.addContainer("metrics", {
        image: ecs.ContainerImage.fromRegistry(COLLECTOR_IMAGE),
        essential: false,
        environment: { AOT_CONFIG_CONTENT: collectorConfig(metricsNamespace, metricsLogGroup.logGroupName) },
        logging: ecs.LogDrivers.awsLogs({ logGroup: metricsLogGroup, streamPrefix: `${node.toLowerCase()}-collector` }),
      });
      const service = new ecs.FargateService(this, node, {
        cluster,
        taskDefinition,
        desiredCount: 1,
        // ECS spreads a service's Fargate tasks across the subnets' availability zones.
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        securityGroups: [taskGroup],
        assignPublicIp: false,
        platformVersion: ecs.FargatePlatformVersion.LATEST,
        // Start the new task before stopping the old one: the old one serves until the new one is healthy.
        minHealthyPercent: 100,
        maxHealthyPercent: 200,
        circuitBreaker: { rollback: true },
        healthCheckGracePeriod: Duration.seconds(HEALTH_CHECK_GRACE_SECONDS),
      });
      const target = { containerName: "strongbox", containerPort: API_PORT };
      servingNodes.addTarget(service.loadBalancerTarget(target));
      const ownTargets = servingTargets(`${node}Targets`);
      ownTargets.addTarget(service.loadBalancerTarget(target));
      loadBalancer.addListener(`${node}Api`, { port: nodePort, protocol: elbv2.Protocol.TCP, defaultTargetGroups: [ownTargets] });
      return service;
    });

    alarmsAndDashboard(this, { namespace: metricsNamespace, topic: alarmTopic, servingNodes, loadBalancer, cluster, services, sealKeyAlarm });

    if (props.hostedZoneId && props.domainName) {
      new route53.CfnRecordSet(this, "ApiRecord", {
        hostedZoneId: props.hostedZoneId,
        name: `${props.domainName}.`,
        type: "A",
        aliasTarget: {
          dnsName: loadBalancer.loadBalancerDnsName,
          hostedZoneId: loadBalancer.loadBalancerCanonicalHostedZoneId,
          // The load balancer has its own fail-open when every node fails; DNS answering nothing would be worse.
          evaluateTargetHealth: false,
        },
      });
    }

    if (props.edgeReader) {
      const edgeReader = new iam.User(this, "EdgeLockReader");
      edgeReader.addToPolicy(
        new iam.PolicyStatement({
          actions: ["dynamodb:GetItem"],
          resources: [table.tableArn],
          conditions: { "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": [LOCK_PARTITION] } },
        }),
      );
      const accessKey = new iam.AccessKey(this, "EdgeLockReaderKey", { user: edgeReader });
      // Field names are the Worker's secret names, so `wrangler secret bulk` takes the JSON as it is.
      const credentials = new secretsmanager.Secret(this, "EdgeLockReaderCredentials", {
        description: "Strongbox edge Worker: access key of the lock-record reader (infra/edge-config.sh)",
        secretObjectValue: {
          AWS_ACCESS_KEY_ID: SecretValue.unsafePlainText(accessKey.accessKeyId),
          AWS_SECRET_ACCESS_KEY: accessKey.secretAccessKey,
        },
      });
      new CfnOutput(this, "EdgeReaderUser", { value: edgeReader.userName, description: "IAM user for the edge Worker (read the HA lock only)" });
      new CfnOutput(this, "EdgeReaderSecretArn", { value: credentials.secretArn, description: "Secrets Manager secret with the edge Worker's access key" });
    }

    new CfnOutput(this, "ApiUrl", { value: `${scheme}://${apiHost}:${API_PORT}`, description: "VAULT_ADDR: any serving node" });
    new CfnOutput(this, "NodeApiAddrs", {
      value: Fn.join(
        " ",
        nodePorts.map((port) => `${scheme}://${apiHost}:${port}`),
      ),
      description: "each node's api_addr, node 1 first",
    });
    new CfnOutput(this, "LoadBalancerDnsName", { value: loadBalancer.loadBalancerDnsName, description: "point domainName here (CNAME) if the stack does not" });
    new CfnOutput(this, "Region", { value: this.region });
    new CfnOutput(this, "TableName", { value: table.tableName, description: "DynamoDB table holding the HA lock" });
    new CfnOutput(this, "BucketName", { value: bucket.bucketName, description: "S3 bucket holding the encrypted data" });
    new CfnOutput(this, "ClusterName", { value: cluster.clusterName });
    new CfnOutput(this, "ServiceNames", {
      value: Fn.join(
        " ",
        services.map((service) => service.serviceName),
      ),
      description: "one ECS service per node, node 1 first",
    });
    new CfnOutput(this, "LogGroupName", { value: logGroup.logGroupName });
    new CfnOutput(this, "AlarmTopicArn", { value: alarmTopic.topicArn, description: "SNS topic of every alarm and seal key event: subscribe to it" });
    new CfnOutput(this, "SealKeyArn", { value: sealKey.keyArn });
    new CfnOutput(this, "AccessLogsBucketName", { value: accessLogs.bucketName, description: "S3 server access logs of the data bucket" });
  }

  /** The zones a new VPC spreads over; never a context lookup, so synthesis works offline. */
  override get availabilityZones(): string[] {
    return this.#zones;
  }
}
