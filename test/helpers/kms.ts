import { CreateKeyCommand, KMSClient, PutKeyPolicyCommand, ScheduleKeyDeletionCommand } from "@aws-sdk/client-kms";
import { inject } from "vitest";

/** moto's endpoint from the global setup; fails the test, saying how to install moto, when it did not start. */
export function kmsEndpoint(): string {
  const endpoint = inject("kmsEndpoint");
  if (!endpoint) throw new Error(inject("kmsUnavailable"));
  return endpoint;
}

export const KMS_CREDENTIALS = { accessKeyId: "test", secretAccessKey: "test" };

export function kmsClient(endpoint = kmsEndpoint()): KMSClient {
  return new KMSClient({ endpoint, region: "us-east-1", credentials: KMS_CREDENTIALS });
}

/** A new symmetric key in the emulator; its id. */
export async function createKmsKey(endpoint = kmsEndpoint()): Promise<string> {
  const { KeyMetadata } = await kmsClient(endpoint).send(new CreateKeyCommand({ Description: "strongbox test seal" }));
  return KeyMetadata!.KeyId!;
}

/**
 * Denies everyone every use of the key. moto enforces key policies only for DescribeKey (which the
 * seal calls before encrypting or decrypting), where it answers AccessDeniedException as AWS does.
 */
export async function denyAllOnKey(keyId: string, endpoint = kmsEndpoint()): Promise<void> {
  const policy = { Version: "2012-10-17", Statement: [{ Effect: "Deny", Principal: "*", Action: "kms:*", Resource: "*" }] };
  await kmsClient(endpoint).send(new PutKeyPolicyCommand({ KeyId: keyId, PolicyName: "default", Policy: JSON.stringify(policy) }));
}

export async function scheduleKeyDeletion(keyId: string, endpoint = kmsEndpoint()): Promise<void> {
  await kmsClient(endpoint).send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
}

/** A `seal "awskms"` stanza for a node's config, against moto; `disabled`: the seal being migrated away from. */
export function awskmsStanza(kmsKeyId: string, endpoint = kmsEndpoint(), { disabled = false } = {}): string {
  return `
seal "awskms" {
  kms_key_id = "${kmsKeyId}"
  endpoint   = "${endpoint}"
  region     = "us-east-1"
  access_key = "test"
  secret_key = "test"${disabled ? `\n  disabled   = "true"` : ""}
}`;
}
