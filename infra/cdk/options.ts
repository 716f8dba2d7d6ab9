/**
 * Stack options from CDK context: `-c key=value` on the command line (always strings) or the
 * "context" object of cdk.json (typed values). Every mistake is reported with the key and what is
 * allowed, before anything is synthesised.
 */
import type { StackProps } from "aws-cdk-lib";
import type { StrongboxStackProps } from "./strongbox-stack.js";

export type StackOptions = Omit<StrongboxStackProps, keyof StackProps> & {
  stackName: string;
  /** A region to replicate the seal key into (its own stack there; makes the key multi-Region). */
  sealKeyReplicaRegion?: string;
};

/** The context keys infra/README.md documents. */
type ContextKey =
  | "stackName"
  | "taskCount"
  | "cpu"
  | "memoryMiB"
  | "vpcId"
  | "clientCidrs"
  | "internetFacing"
  | "tlsSecretArn"
  | "insecureHttp"
  | "domainName"
  | "hostedZoneId"
  | "availabilityZones"
  | "edgeReader"
  | "image"
  | "breakGlassRoleArn"
  | "singleNatGateway"
  | "backup"
  | "backupCopyVaultArn"
  | "sealKeyReplicaRegion";

export function readOptions(context: (key: ContextKey) => unknown): StackOptions {
  const options: StackOptions = { stackName: text(context, "stackName") ?? "Strongbox" };
  const taskCount = integer(context, "taskCount", 1, 10);
  if (taskCount !== undefined) options.taskCount = taskCount;
  const cpu = integer(context, "cpu", 256, 16384);
  if (cpu !== undefined) options.cpu = cpu;
  const memoryMiB = integer(context, "memoryMiB", 512, 122880);
  if (memoryMiB !== undefined) options.memoryMiB = memoryMiB;
  const vpcId = text(context, "vpcId");
  if (vpcId !== undefined) options.vpcId = matching(vpcId, "vpcId", /^vpc-[0-9a-f]{8,17}$/, 'a VPC id such as "vpc-0abc1234def567890"');
  const clientCidrs = list(context, "clientCidrs");
  if (clientCidrs !== undefined) {
    options.clientCidrs = clientCidrs.map((cidr) => matching(cidr, "clientCidrs", /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, 'IPv4 CIDRs such as "10.0.0.0/16"'));
  }
  const internetFacing = bool(context, "internetFacing");
  if (internetFacing !== undefined) options.internetFacing = internetFacing;
  const tlsSecretArn = text(context, "tlsSecretArn");
  if (tlsSecretArn !== undefined) {
    options.tlsSecretArn = matching(
      tlsSecretArn,
      "tlsSecretArn",
      /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/,
      "the secret's complete ARN, ending in its 6-character suffix (aws secretsmanager describe-secret shows it)",
    );
  }
  const insecureHttp = bool(context, "insecureHttp");
  if (insecureHttp !== undefined) options.insecureHttp = insecureHttp;
  const domainName = text(context, "domainName");
  if (domainName !== undefined) {
    options.domainName = matching(domainName.toLowerCase(), "domainName", DNS_NAME, 'a DNS name such as "vault.example.com"');
  }
  const hostedZoneId = text(context, "hostedZoneId");
  if (hostedZoneId !== undefined)
    options.hostedZoneId = matching(hostedZoneId, "hostedZoneId", /^Z[A-Z0-9]{1,32}$/, 'a Route 53 hosted zone id such as "Z0123456789ABCDEFGHIJ"');
  const availabilityZones = list(context, "availabilityZones");
  if (availabilityZones !== undefined) {
    options.availabilityZones = availabilityZones.map((zone) =>
      matching(zone, "availabilityZones", /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, 'availability zone names such as "eu-west-1a"'),
    );
  }
  checkTlsSource(options);
  const edgeReader = bool(context, "edgeReader");
  if (edgeReader !== undefined) options.edgeReader = edgeReader;
  const image = text(context, "image");
  if (image !== undefined) options.image = image;
  readCustodyOptions(context, options);
  return options;
}

function readCustodyOptions(context: (key: ContextKey) => unknown, options: StackOptions): void {
  const breakGlassRoleArn = text(context, "breakGlassRoleArn");
  if (breakGlassRoleArn !== undefined) {
    options.breakGlassRoleArn = matching(
      breakGlassRoleArn,
      "breakGlassRoleArn",
      /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/,
      'a role ARN such as "arn:aws:iam::111122223333:role/strongbox-break-glass"',
    );
  }
  const singleNatGateway = bool(context, "singleNatGateway");
  if (singleNatGateway !== undefined) options.singleNatGateway = singleNatGateway;
  const backup = bool(context, "backup");
  if (backup !== undefined) options.backup = backup;
  const backupCopyVaultArn = text(context, "backupCopyVaultArn");
  if (backupCopyVaultArn !== undefined) {
    if (!options.backup) throw new OptionError("backup", options.backup, "true with backupCopyVaultArn (copies are of the backups it turns on)");
    options.backupCopyVaultArn = matching(
      backupCopyVaultArn,
      "backupCopyVaultArn",
      /^arn:aws[a-z-]*:backup:[a-z0-9-]+:\d{12}:backup-vault:[\w.-]+$/,
      'a backup vault ARN in another region such as "arn:aws:backup:eu-central-1:111122223333:backup-vault:strongbox-copy"',
    );
  }
  const sealKeyReplicaRegion = text(context, "sealKeyReplicaRegion");
  if (sealKeyReplicaRegion !== undefined) {
    options.sealKeyReplicaRegion = matching(sealKeyReplicaRegion, "sealKeyReplicaRegion", /^[a-z]{2}(-[a-z]+)+-\d$/, 'a region name such as "eu-central-1"');
    options.sealKeyMultiRegion = true;
  }
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * Clients must be able to verify every address a node advertises, so the stack serves TLS unless
 * told, in so many words, that the stack is a throw-away; and a certificate needs a name that
 * exists before the first deploy, which the load balancer's generated one does not.
 */
function checkTlsSource(options: StackOptions): void {
  if (options.tlsSecretArn && options.insecureHttp) {
    throw new OptionError("insecureHttp", true, "it only without tlsSecretArn (one serves TLS, the other plain HTTP)");
  }
  if (!options.tlsSecretArn && !options.insecureHttp) {
    throw new OptionError(
      "tlsSecretArn",
      undefined,
      "a Secrets Manager secret with the certificate for domainName (infra/README.md, TLS); " +
        "only for a throw-away test stack, -c insecureHttp=true serves plain HTTP instead",
    );
  }
  if (options.tlsSecretArn && !options.domainName) {
    throw new OptionError(
      "domainName",
      undefined,
      "the DNS name the certificate in tlsSecretArn names; the load balancer's own name is not known before the first deploy",
    );
  }
  if (options.hostedZoneId && !options.domainName) {
    throw new OptionError("domainName", undefined, "the name to create in hostedZoneId");
  }
}

function text(context: (key: ContextKey) => unknown, key: ContextKey): string | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new OptionError(key, value, "a string");
  return value.trim();
}

function integer(context: (key: ContextKey) => unknown, key: ContextKey, min: number, max: number): number | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  const number = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(number) || number < min || number > max) throw new OptionError(key, value, `a whole number from ${min} to ${max}`);
  return number;
}

function bool(context: (key: ContextKey) => unknown, key: ContextKey): boolean | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw new OptionError(key, value, "true or false");
}

function list(context: (key: ContextKey) => unknown, key: ContextKey): string[] | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === "") return undefined;
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
  if (!items || items.some((item) => typeof item !== "string")) throw new OptionError(key, value, "a comma-separated list");
  return (items as string[]).map((item) => item.trim()).filter((item) => item !== "");
}

function matching(value: string, key: ContextKey, pattern: RegExp, allowed: string): string {
  if (!pattern.test(value)) throw new OptionError(key, value, allowed);
  return value;
}

export class OptionError extends Error {
  constructor(key: ContextKey, value: unknown, allowed: string) {
    super(
      value === undefined
        ? `context "${key}" is required: set it to ${allowed} (e.g. -c ${key}=...)`
        : `context "${key}" = ${JSON.stringify(value)} is not allowed: use ${allowed} (e.g. -c ${key}=...)`,
    );
    this.name = "OptionError";
  }
}
