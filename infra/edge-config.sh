#!/usr/bin/env bash
# Points the edge Worker (adapters/edge) at a deployed stack, from the outputs `cdk deploy` wrote
# (infra/deploy.sh writes infra/cdk/outputs.json; the stack needs -c edgeReader=true):
#   infra/edge-config.sh [outputs.json] [stack name]
# 1. writes wrangler.<stack>.toml at the repository root: wrangler.toml with the stack's table and region;
# 2. deploys the Worker with it (npx wrangler deploy; log in to Cloudflare first: npx wrangler login);
# 3. pipes the lock reader's access key from Secrets Manager into `wrangler secret bulk`, so the
#    key goes from AWS to Cloudflare without touching the disk.
set -euo pipefail

fail() {
  printf '%s: %s\n' "$(basename "$0")" "$*" >&2
  exit 1
}

root=$(cd "$(dirname "$0")/.." && pwd)
outputs=${1:-$root/infra/cdk/outputs.json}
stack=${2:-Strongbox}
[ -f "$outputs" ] || fail "no stack outputs at ${outputs}: deploy with infra/deploy.sh (it writes them), or pass the file cdk deploy --outputs-file wrote"
command -v aws >/dev/null || fail "the AWS CLI is not installed (https://aws.amazon.com/cli/); it reads the Worker's access key from Secrets Manager"

# Table, region and secret ARN, one per line, or the reason they are missing.
fields=$(node -e '
  const [file, stack] = process.argv.slice(1);
  const outputs = JSON.parse(require("node:fs").readFileSync(file, "utf8"))[stack];
  if (!outputs) throw new Error(`${file} has no outputs for stack ${stack}`);
  if (!outputs.EdgeReaderSecretArn) throw new Error(`stack ${stack} has no edge reader: deploy it with -c edgeReader=true`);
  console.log([outputs.TableName, outputs.Region, outputs.EdgeReaderSecretArn].join("\n"));
' "$outputs" "$stack" 2>&1) || fail "$(printf '%s\n' "$fields" | grep -m1 '^Error' || printf '%s' "$fields")"
{ read -r table; read -r region; read -r secret; } <<<"$fields"

config="$root/wrangler.${stack}.toml"
node -e '
  const [base, table, region] = process.argv.slice(1);
  const text = require("node:fs").readFileSync(base, "utf8");
  const set = (source, name, value) => {
    const line = new RegExp(`^${name} = .*$`, "m");
    if (!line.test(source)) throw new Error(`${base} has no ${name} line`);
    return source.replace(line, `${name} = ${JSON.stringify(value)}`);
  };
  process.stdout.write(`# Written by infra/edge-config.sh from the stack outputs; wrangler.toml is the template.\n${set(set(text, "AWS_DYNAMODB_TABLE", table), "AWS_REGION", region)}`);
' "$root/wrangler.toml" "$table" "$region" >"$config"
printf 'Wrote %s (table %s, region %s)\n' "$config" "$table" "$region"

cd "$root"
npx wrangler deploy --config "$config"
aws secretsmanager get-secret-value --region "$region" --secret-id "$secret" --query SecretString --output text |
  npx wrangler secret bulk --config "$config"
printf 'The Worker now reads the lock from %s in %s.\n' "$table" "$region"
