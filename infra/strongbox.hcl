# Strongbox in a container on ECS (copied to /etc/strongbox/strongbox.hcl by infra/Dockerfile).
#
# The same file serves every task. What differs per deployment or per task comes from the
# environment, which wins over these stanzas:
#   AWS_S3_BUCKET, AWS_DYNAMODB_TABLE, AWS_REGION   set by the CDK stack (infra/cdk)
#   VAULT_AWSKMS_SEAL_KEY_ID                        the seal's KMS key, set by the CDK stack
#   VAULT_API_ADDR                                  this node's address on the load balancer (CDK stack)
#   VAULT_CLUSTER_ADDR                              this task's private IP (infra/entrypoint.mjs)
# The entrypoint also adds the listener: 0.0.0.0:8200, cluster port 8201, TLS when a certificate is
# given, PROXY protocol from the load balancer (see infra/README.md).

# After SIGTERM, keep serving while sys/health says "draining", for as long as the load balancer's
# health check takes to notice (10 s interval x 3 failures; infra/cdk/strongbox-stack.ts
# SHUTDOWN_DELAY_SECONDS). ECS's stopTimeout leaves room for this plus the drain.
shutdown_delay = "30s"

# The data, encrypted by the barrier; the bucket's SSE-KMS encryption is a second layer.
storage "s3" {}

# The HA lock only: lock records live in the table's "/lock" partition.
ha_storage "dynamodb" {}

# Auto-unseal: the barrier key is encrypted by the stack's seal key, so every task unseals itself at
# start; `operator init` (once) hands out recovery keys. Credentials: the task role.
seal "awskms" {}
