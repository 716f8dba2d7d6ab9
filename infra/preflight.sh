# Checks shared by deploy.sh and destroy.sh (sourced, not run). On success: the working directory
# is infra/cdk, AWS_REGION is set, and ACCOUNT holds the account id of the credentials in use.

fail() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

cd "$(dirname "$0")/cdk" || fail "cannot find infra/cdk"

command -v node >/dev/null || fail "Node.js is not installed (Node.js 20.3 or later is needed)"
[ -x ../../node_modules/.bin/cdk ] || fail "the AWS CDK CLI is not installed: run npm ci in the repository root"
command -v aws >/dev/null || fail "the AWS CLI is not installed (https://aws.amazon.com/cli/); it is used to check credentials and region"

if ! ACCOUNT=$(aws sts get-caller-identity --query Account --output text 2>&1); then
  fail "no usable AWS credentials: ${ACCOUNT}
  Set AWS_PROFILE, or run 'aws configure' or 'aws sso login', then try again."
fi

AWS_REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}
[ -n "$AWS_REGION" ] || fail "no AWS region: set AWS_REGION (e.g. AWS_REGION=eu-west-1) or a region in your AWS profile"
export AWS_REGION

# The stack name, as `-c stackName=...` may set it.
STACK_NAME=Strongbox
for arg in "$@"; do
  case "$arg" in
    stackName=*) STACK_NAME=${arg#stackName=} ;;
    --context=stackName=*) STACK_NAME=${arg#--context=stackName=} ;;
  esac
done
