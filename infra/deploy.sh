#!/usr/bin/env bash
# Deploys Strongbox to ECS Fargate with the AWS CDK app in infra/cdk (see infra/README.md).
# Arguments go to `cdk deploy`, e.g.:
#   infra/deploy.sh -c domainName=vault.example.com \
#     -c tlsSecretArn=arn:aws:secretsmanager:eu-west-1:111122223333:secret:strongbox/tls-Ab12Cd
# The stack's outputs land in infra/cdk/outputs.json (infra/edge-config.sh reads them).
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
npx cdk deploy --outputs-file outputs.json "$@"

api_url=$(node -e 'console.log(JSON.parse(require("node:fs").readFileSync("outputs.json", "utf8"))[process.argv[1]]?.ApiUrl ?? "<ApiUrl output>")' "$STACK_NAME")
cat <<MESSAGE

Next steps (infra/README.md, "First boot"). The tasks unseal themselves with the stack's KMS key:
there are no unseal keys and nothing to unseal by hand.
  1. Once per cluster, initialise it, from an address in clientCidrs (with VAULT_CACERT for your CA):
       VAULT_ADDR=${api_url} strongbox operator init -recovery-shares=5 -recovery-threshold=3
     Keep the recovery keys and the root token safe: they are shown only once.
  2. Then make an uninitialised node fail the health check (an empty or wrong bucket no longer looks healthy):
       infra/deploy.sh <the same -c options> --parameters ClusterInitialized=true
     Later deploys keep the value.
  3. With -c edgeReader=true, configure and deploy the edge Worker: infra/edge-config.sh
MESSAGE
