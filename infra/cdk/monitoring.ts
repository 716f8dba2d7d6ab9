/**
 * Watching the cluster: an ADOT collector beside each node scrapes its `sys/metrics` and writes
 * them to CloudWatch as embedded metric format; alarms on them and on the load balancer's and ECS's
 * own metrics go to one SNS topic; one dashboard shows them (infra/README.md, "Alarms and metrics").
 */
import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as actions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as ecs from "aws-cdk-lib/aws-ecs";
import type * as elbv2 from "aws-cdk-lib/aws-elasticloadbalancingv2";
import type * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";

/** The loopback-only, plain-HTTP listener (infra/strongbox.hcl) the collector scrapes without a token. */
export const METRICS_PORT = 8202;
export const COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3";
/** The node metrics the collector sends to CloudWatch; the rest stay in `sys/metrics`. */
export const EXPORTED_METRICS = [
  "vault_core_active",
  "vault_core_standby",
  "vault_core_unsealed",
  "strongbox_ha_lock_acquisitions_total",
  "strongbox_ha_forwarding_fallbacks_total",
  "vault_audit_log_request_failure",
  "vault_audit_log_response_failure",
  "strongbox_storage_errors_total",
];
export const SCRAPE_INTERVAL_SECONDS = 15;
/** What the collector's EMF exporter does with its log group (the task role's, shared by the task's containers). */
export const COLLECTOR_LOG_ACTIONS = ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"];
/** The "no active node" alarm fires after this long without any node reporting itself active. */
export const NO_ACTIVE_NODE_SECONDS = 120;

/**
 * The collector's configuration. Every node's series carry the same dimension (the job), so
 * CloudWatch's Maximum across them is "is any node active".
 */
export function collectorConfig(namespace: string, logGroupName: string): string {
  return JSON.stringify({
    receivers: {
      prometheus: {
        config: {
          scrape_configs: [
            {
              job_name: "strongbox",
              scrape_interval: `${SCRAPE_INTERVAL_SECONDS}s`,
              metrics_path: "/v1/sys/metrics",
              params: { format: ["prometheus"] },
              static_configs: [{ targets: [`127.0.0.1:${METRICS_PORT}`] }],
            },
          ],
        },
      },
    },
    exporters: {
      awsemf: {
        namespace,
        log_group_name: logGroupName,
        dimension_rollup_option: "NoDimensionRollup",
        metric_declarations: [{ dimensions: [["job"]], metric_name_selectors: EXPORTED_METRICS.map((name) => `^${name}$`) }],
      },
    },
    service: { pipelines: { metrics: { receivers: ["prometheus"], exporters: ["awsemf"] } } },
  });
}

export interface AlarmsProps {
  namespace: string;
  topic: sns.ITopic;
  servingNodes: elbv2.NetworkTargetGroup;
  loadBalancer: elbv2.NetworkLoadBalancer;
  cluster: ecs.ICluster;
  services: ecs.FargateService[];
  sealKeyAlarm: cloudwatch.Alarm;
}

export function alarmsAndDashboard(scope: Construct, props: AlarmsProps): cloudwatch.Alarm[] {
  const minute = Duration.minutes(1);
  const nodeMetric = (metricName: string, statistic = "Maximum") =>
    new cloudwatch.Metric({ namespace: props.namespace, metricName, dimensionsMap: { job: "strongbox" }, statistic, period: minute });
  const taskCount = props.services.length;

  const noActive = new cloudwatch.Alarm(scope, "NoActiveNodeAlarm", {
    alarmDescription: `No node has reported itself active for ${NO_ACTIVE_NODE_SECONDS} s: the API answers 503`,
    metric: nodeMetric("vault_core_active"),
    threshold: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: NO_ACTIVE_NODE_SECONDS / 60,
    // No node reporting at all is no active node too.
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  const healthyHosts = props.servingNodes.metrics.healthyHostCount({ statistic: "Minimum", period: minute });
  const fewHealthy = new cloudwatch.Alarm(scope, "HealthyNodesAlarm", {
    alarmDescription: `Fewer than ${taskCount} nodes pass the load balancer's health check`,
    metric: healthyHosts,
    threshold: taskCount,
    comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
    evaluationPeriods: 3,
    treatMissingData: cloudwatch.TreatMissingData.BREACHING,
  });
  const serviceMetric = (service: ecs.FargateService, metricName: string) =>
    new cloudwatch.Metric({
      namespace: "ECS/ContainerInsights",
      metricName,
      dimensionsMap: { ClusterName: props.cluster.clusterName, ServiceName: service.serviceName },
      statistic: "Average",
      period: minute,
    });
  const missingTasks = new cloudwatch.MathExpression({
    label: "desired minus running tasks",
    expression: props.services.map((_, n) => `(d${n} - r${n})`).join(" + "),
    usingMetrics: Object.fromEntries(
      props.services.flatMap((service, n) => [
        [`d${n}`, serviceMetric(service, "DesiredTaskCount")],
        [`r${n}`, serviceMetric(service, "RunningTaskCount")],
      ]),
    ),
    period: minute,
  });
  const tasksBelowDesired = new cloudwatch.Alarm(scope, "RunningTasksAlarm", {
    alarmDescription: "Fewer tasks run than the node services want (Container Insights)",
    metric: missingTasks,
    threshold: 0,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    evaluationPeriods: 5,
    treatMissingData: cloudwatch.TreatMissingData.MISSING,
  });
  const alarms = [noActive, fewHealthy, tasksBelowDesired];
  for (const alarm of alarms) {
    alarm.addAlarmAction(new actions.SnsAction(props.topic));
    alarm.addOkAction(new actions.SnsAction(props.topic));
  }

  const dashboard = new cloudwatch.Dashboard(scope, "Dashboard", { defaultInterval: Duration.hours(3) });
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: [...alarms, props.sealKeyAlarm], width: 24 }),
    new cloudwatch.GraphWidget({
      title: "Active, standby and unsealed nodes",
      left: ["vault_core_active", "vault_core_standby", "vault_core_unsealed"].map((name) => nodeMetric(name)),
    }),
    new cloudwatch.GraphWidget({ title: "Healthy nodes (load balancer)", left: [healthyHosts] }),
    new cloudwatch.GraphWidget({ title: "Missing tasks", left: [missingTasks] }),
    new cloudwatch.GraphWidget({
      title: "Failovers, forwarding fallbacks, audit and storage failures",
      left: [
        "strongbox_ha_lock_acquisitions_total",
        "strongbox_ha_forwarding_fallbacks_total",
        "vault_audit_log_request_failure",
        "strongbox_storage_errors_total",
      ].map((name) => nodeMetric(name, "Maximum")),
    }),
    new cloudwatch.GraphWidget({ title: "Connections (load balancer)", left: [props.loadBalancer.metrics.activeFlowCount({ period: minute })] }),
  );
  return alarms;
}
