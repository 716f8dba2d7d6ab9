# Strongbox in a container on ECS (copied to /etc/strongbox/strongbox.hcl by infra/Dockerfile).
#
# The same file serves every task. What differs per deployment or per task comes from the
# environment, which wins over these stanzas:
#   AWS_S3_BUCKET, AWS_DYNAMODB_TABLE, AWS_REGION   set by the CDK stack (infra/cdk)
#   VAULT_AWSKMS_SEAL_KEY_ID                        the seal's KMS key, set by the CDK stack
#   VAULT_API_ADDR, VAULT_CLUSTER_ADDR              this task's own addresses (infra/entrypoint.mjs)
# The entrypoint also adds the listener: 0.0.0.0:8200, cluster port 8201, TLS when a certificate is
# given (see infra/README.md).

# The data, encrypted by the barrier; the bucket's SSE-KMS encryption is a second layer.
storage "s3" {}

# The HA lock only: lock records live in the table's "/lock" partition.
ha_storage "dynamodb" {}

# Auto-unseal: the barrier key is encrypted by the stack's seal key, so every task unseals itself at
# start; `operator init` (once) hands out recovery keys. Credentials: the task role.
seal "awskms" {}
