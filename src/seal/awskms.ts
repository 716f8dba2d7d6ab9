/**
 * `seal "awskms"`: the barrier key is encrypted by an AWS KMS key and the ciphertext kept in the
 * plaintext seal configuration, so every node can unseal itself at start with no operator. Operators
 * hold recovery keys instead: shares of a random recovery key (also stored KMS-encrypted), which
 * only authorize (`operator unseal` after `sys/seal`) and never decrypt anything by themselves.
 *
 * The SDK is imported on first use, so a node with another seal never loads it.
 */
import type { KMSClient } from "@aws-sdk/client-kms";
import { fromBase64, toBase64, toHex } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";
import type { Backend } from "../physical/backend.js";
import { type InitKeys, type InitRequest, type OperatorUnseal, type Seal, type SealConfig, SealConfigStore, type ShareCounts } from "./seal.js";
import { checkShareParameters, equalInConstantTime, ShareCollector, splitSecret } from "./shamir.js";

type Sdk = typeof import("@aws-sdk/client-kms");

/** The stanza's options, already resolved against the environment by the config parser. */
export interface AwsKmsSettings {
  kmsKeyId: string;
  region: string;
  endpoint?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export function awsKmsSettings(options: Record<string, string>): AwsKmsSettings {
  const { kms_key_id: kmsKeyId, region, endpoint, access_key: accessKeyId, secret_key: secretAccessKey, session_token: sessionToken } = options;
  if (!kmsKeyId) throw new Error(`seal "awskms": "kms_key_id" is required`);
  return {
    kmsKeyId,
    region: region ?? "us-east-1",
    ...(endpoint && { endpoint: /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}` }),
    ...(accessKeyId && secretAccessKey && { credentials: { accessKeyId, secretAccessKey, ...(sessionToken && { sessionToken }) } }),
  };
}

interface AwsKmsSealConfig extends SealConfig {
  /** The key that encrypted both ciphertexts, as KMS named it (its ARN). */
  kms_key_arn: string;
  barrier_key_ciphertext: string;
  recovery_key_ciphertext: string;
}

// Each ciphertext is bound to its purpose, so one cannot be swapped for the other in storage.
const BARRIER_KEY_CONTEXT = { "strongbox-seal": "barrier-key" };
const RECOVERY_KEY_CONTEXT = { "strongbox-seal": "recovery-key" };
const REQUEST_TIMEOUT_MS = 5_000;

/** KMS refused or could not be reached; the node stays sealed (503) and says why. */
export class SealUnavailableError extends LogicalError {
  constructor(message: string) {
    super(503, message);
  }
}

export class AwsKmsSeal implements Seal {
  readonly type = "awskms";
  readonly recoverySeal = true;
  readonly #configs: SealConfigStore<AwsKmsSealConfig>;
  readonly #recoveryShares = new ShareCollector();
  #client: Promise<{ sdk: Sdk; client: KMSClient }> | undefined;

  constructor(
    physical: Backend,
    private readonly settings: AwsKmsSettings,
  ) {
    this.#configs = new SealConfigStore(physical);
  }

  /** Vault ignores secret_shares with an auto seal (its one stored share is the KMS ciphertext). */
  async checkInit(request: InitRequest): Promise<void> {
    checkShareParameters(request, "recovery");
    await this.#usableKeyArn();
  }

  async initialize(barrierKey: Uint8Array, request: InitRequest, clusterId: string): Promise<InitKeys> {
    const recoveryKey = crypto.getRandomValues(new Uint8Array(32));
    const shares = await splitSecret(recoveryKey, request.recovery_shares!, request.recovery_threshold!);
    const config = await this.#protect(barrierKey, recoveryKey, {
      secret_shares: request.recovery_shares!,
      secret_threshold: request.recovery_threshold!,
      cluster_id: clusterId,
    });
    recoveryKey.fill(0);
    await this.#configs.write(config);
    return { keys: [], keys_base64: [], recovery_keys: shares.map(toHex), recovery_keys_base64: shares.map(toBase64) };
  }

  /** From Shamir: the former unseal key shares become the recovery key shares (Vault's rule). */
  migratedConfig(barrierKey: Uint8Array, operatorKey: Uint8Array, previous: SealConfig): Promise<SealConfig> {
    const { secret_shares, secret_threshold, cluster_id } = previous;
    return this.#protect(barrierKey, operatorKey, { secret_shares, secret_threshold, cluster_id });
  }

  writeConfig(config: SealConfig, storage: Backend): Promise<void> {
    return this.#configs.write(config as AwsKmsSealConfig, storage);
  }

  async #protect(barrierKey: Uint8Array, recoveryKey: Uint8Array, shares: Omit<SealConfig, "type">): Promise<AwsKmsSealConfig> {
    const barrier = await this.#encrypt(barrierKey, BARRIER_KEY_CONTEXT);
    const recovery = await this.#encrypt(recoveryKey, RECOVERY_KEY_CONTEXT);
    return {
      type: this.type,
      ...shares,
      kms_key_arn: barrier.keyArn,
      barrier_key_ciphertext: barrier.ciphertext,
      recovery_key_ciphertext: recovery.ciphertext,
    };
  }

  config(): Promise<SealConfig | null> {
    return this.#configs.read();
  }

  async storedBarrierKey(): Promise<Uint8Array> {
    const config = await this.#initializedConfig();
    return this.#decrypt(config, config.barrier_key_ciphertext, BARRIER_KEY_CONTEXT);
  }

  /** Recovery key shares authorize an unseal; the barrier key itself still comes from KMS. */
  async submitKey(share: Uint8Array): Promise<OperatorUnseal | null> {
    // Another node may have rekeyed the recovery key since this one read the configuration.
    if (this.#recoveryShares.progress().progress === 0) await this.#configs.reload();
    const config = await this.#initializedConfig();
    const recoveryKey = await this.#recoveryShares.add(share, config.secret_shares, config.secret_threshold);
    if (!recoveryKey) return null;
    if (!(await this.checkOperatorKey(recoveryKey))) {
      throw new LogicalError(400, "the recovery key shares given do not rebuild this cluster's recovery key (wrong or mismatched shares)");
    }
    return { barrierKey: await this.storedBarrierKey(), operatorKey: recoveryKey };
  }

  async checkOperatorKey(recoveryKey: Uint8Array): Promise<boolean> {
    const config = await this.#initializedConfig();
    const expected = await this.#decrypt(config, config.recovery_key_ciphertext, RECOVERY_KEY_CONTEXT);
    return equalInConstantTime(recoveryKey, expected);
  }

  /** The recovery key is only compared, so the new one replaces it in one write of the configuration. */
  async replaceOperatorKey(_current: Uint8Array, next: Uint8Array, split: ShareCounts): Promise<void> {
    const config = await this.#configs.reload();
    if (!config) throw new LogicalError(400, "Vault is not initialized");
    const recovery = await this.#encrypt(next, RECOVERY_KEY_CONTEXT);
    await this.#configs.write({ ...config, secret_shares: split.shares, secret_threshold: split.threshold, recovery_key_ciphertext: recovery.ciphertext });
  }

  reset(): void {
    this.#recoveryShares.reset();
  }

  progress(): { progress: number; nonce: string } {
    return this.#recoveryShares.progress();
  }

  async #initializedConfig(): Promise<AwsKmsSealConfig> {
    const config = await this.#configs.read();
    if (!config) throw new LogicalError(400, "Vault is not initialized");
    return config;
  }

  /** The configured key's ARN, once KMS says it exists and is enabled (and that we may use it). */
  async #usableKeyArn(): Promise<string> {
    const { sdk, client } = await this.#kms();
    const { KeyMetadata: key } = await this.#call(() => client.send(new sdk.DescribeKeyCommand({ KeyId: this.settings.kmsKeyId })));
    if (!key?.Arn) throw new SealUnavailableError(`awskms seal: KMS did not describe key "${this.settings.kmsKeyId}"`);
    if (key.KeyState !== "Enabled") {
      throw new SealUnavailableError(`awskms seal: KMS key ${key.Arn} is ${key.KeyState ?? "in an unknown state"}, not Enabled`);
    }
    return key.Arn;
  }

  async #encrypt(plaintext: Uint8Array, context: Record<string, string>): Promise<{ ciphertext: string; keyArn: string }> {
    const { sdk, client } = await this.#kms();
    const output = await this.#call(() =>
      client.send(new sdk.EncryptCommand({ KeyId: this.settings.kmsKeyId, Plaintext: plaintext, EncryptionContext: context })),
    );
    if (!output.CiphertextBlob || !output.KeyId) throw new SealUnavailableError("awskms seal: KMS returned no ciphertext");
    return { ciphertext: toBase64(output.CiphertextBlob), keyArn: output.KeyId };
  }

  async #decrypt(config: AwsKmsSealConfig, ciphertext: string, context: Record<string, string>): Promise<Uint8Array> {
    const keyArn = await this.#usableKeyArn();
    if (keyArn !== config.kms_key_arn) {
      throw new SealUnavailableError(
        `awskms seal: the barrier key was encrypted with KMS key ${config.kms_key_arn}, but kms_key_id "${this.settings.kmsKeyId}" is ${keyArn}; configure the original key`,
      );
    }
    const { sdk, client } = await this.#kms();
    const blob = fromBase64(ciphertext);
    const output = await this.#call(() =>
      client.send(new sdk.DecryptCommand({ KeyId: this.settings.kmsKeyId, CiphertextBlob: blob, EncryptionContext: context })),
    );
    if (!output.Plaintext) throw new SealUnavailableError("awskms seal: KMS returned no plaintext");
    return output.Plaintext;
  }

  /** Runs a KMS call; its failure becomes a 503 that names the AWS error (never any key material). */
  async #call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      const { name, message } = error as Error;
      throw new SealUnavailableError(`awskms seal: KMS key "${this.settings.kmsKeyId}" could not be used: ${name}: ${message}`);
    }
  }

  #kms(): Promise<{ sdk: Sdk; client: KMSClient }> {
    this.#client ??= import("@aws-sdk/client-kms").then((sdk) => ({
      sdk,
      client: new sdk.KMSClient({
        region: this.settings.region,
        ...(this.settings.endpoint && { endpoint: this.settings.endpoint }),
        ...(this.settings.credentials && { credentials: this.settings.credentials }),
        requestHandler: { requestTimeout: REQUEST_TIMEOUT_MS, connectionTimeout: REQUEST_TIMEOUT_MS },
      }),
    }));
    return this.#client;
  }
}
