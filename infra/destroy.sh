#!/usr/bin/env bash
# Deletes the Strongbox stack. The data bucket, its KMS key, the lock table and the log group are
# kept (a secrets store is not deleted by accident); this script lists them. Arguments go to
# `cdk destroy` (e.g. -c stackName=... for a stack not named Strongbox).
set -euo pipefail
source "$(dirname "$0")/preflight.sh"

# What RemovalPolicy.RETAIN keeps: every bucket, key, table and log group of the stack.
kept=$(aws cloudformation describe-stack-resources --stack-name "$STACK_NAME" --region "$AWS_REGION" \
  --query "StackResources[?contains(['AWS::S3::Bucket','AWS::KMS::Key','AWS::DynamoDB::Table','AWS::Logs::LogGroup'], ResourceType)].[ResourceType,PhysicalResourceId]" \
  --output text 2>&1) || fail "cannot read stack ${STACK_NAME} in ${AWS_REGION}: ${kept}"

npx cdk destroy "$@"

cat <<MESSAGE

These resources are kept and still cost money; delete them by hand once you no longer need the
data (the table has deletion protection; the key is only scheduled for deletion):
${kept}
MESSAGE
