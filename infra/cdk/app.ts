/** The CDK app: one Strongbox stack, configured from context (infra/README.md lists the keys). */
import { App } from "aws-cdk-lib";
import { OptionError, readOptions, type StackOptions } from "./options.js";
import { SealKeyReplicaStack } from "./custody.js";
import { StrongboxStack } from "./strongbox-stack.js";

const app = new App();
let stackOptions: StackOptions;
try {
  stackOptions = readOptions((key) => app.node.tryGetContext(key));
} catch (error) {
  if (!(error instanceof OptionError)) throw error;
  process.stderr.write(`Error: ${error.message}\n`);
  process.exit(1);
}
const { stackName, sealKeyReplicaRegion, ...options } = stackOptions;
const stack = new StrongboxStack(app, stackName, {
  ...options,
  // The account and region of the deploying credentials, when there are any: only vpcId's lookup needs
  // them; without, the stack takes both from CloudFormation at deploy time, so synth works offline.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: "Strongbox: HA secrets server (Vault API) on ECS Fargate, S3 data, DynamoDB lock",
  crossRegionReferences: sealKeyReplicaRegion !== undefined,
});
if (sealKeyReplicaRegion) {
  new SealKeyReplicaStack(app, `${stackName}-SealKeyReplica`, {
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: sealKeyReplicaRegion },
    crossRegionReferences: true,
    primaryKeyArn: stack.sealKeyArn,
    taskRoleArn: stack.taskRoleArn,
    breakGlassRoleArn: options.breakGlassRoleArn,
    description: "Strongbox: replica of the seal key, for a restore in this region",
  });
}
app.synth();
