/** The CDK app: one Strongbox stack, configured from context (infra/README.md lists the keys). */
import { App } from "aws-cdk-lib";
import { readOptions } from "./options.js";
import { StrongboxStack } from "./strongbox-stack.js";

const app = new App();
const { stackName, ...options } = readOptions((key) => app.node.tryGetContext(key));
new StrongboxStack(app, stackName, {
  ...options,
  // The account and region of the deploying credentials: AZ and VPC lookups need them.
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: "Strongbox: HA secrets server (Vault API) on ECS Fargate, S3 data, DynamoDB lock",
});
app.synth();
