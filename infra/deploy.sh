#!/usr/bin/env bash
# Deploys Strongbox to ECS Fargate with the AWS CDK app in infra/cdk (see infra/README.md).
# Arguments go to `cdk deploy`, e.g.:
#   infra/deploy.sh -c tlsSecretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls-Ab12Cd
set -euo pipefail
source "$(dirname "$0")/preflight.sh"

prebuilt_image=false
for arg in "$@"; do
  case "$arg" in image=* | --context=image=*) prebuilt_image=true ;; esac
done
if [ "$prebuilt_image" = false ]; then
  command -v docker >/dev/null || fail "Docker is not installed: the deploy builds infra/Dockerfile into the image.
  Install Docker, or pass a prebuilt image with -c image=<registry>/<repository>:<tag>."
  docker info >/dev/null 2>&1 || fail "Docker is installed but not running (docker info failed): start it and try again."
fi

if ! aws cloudformation describe-stacks --stack-name CDKToolkit --region "$AWS_REGION" >/dev/null 2>&1; then
  fail "account ${ACCOUNT} is not bootstrapped for the CDK in ${AWS_REGION}. Once per account and region, run:
  (cd infra/cdk && npx cdk bootstrap aws://${ACCOUNT}/${AWS_REGION})"
fi

printf 'Deploying stack %s to account %s, region %s\n' "$STACK_NAME" "$ACCOUNT" "$AWS_REGION"
npx cdk deploy "$@"
printf '\nNew tasks start sealed. First boot (init once, unseal every task): see infra/README.md.\n'
