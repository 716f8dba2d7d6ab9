/**
 * Vault's PGP-encrypted key shares: `pgp_keys` at init and rekey, `recovery_pgp_keys` and
 * `root_token_pgp_key` at init, `pgp_key` at generate-root. Each key is the base64 of a binary
 * OpenPGP public key; what is encrypted is the hex of the share (or of the token), as Vault does,
 * so `base64 -d | gpg -d` gives what `operator unseal` takes.
 *
 * The OpenPGP library is loaded on first use, so a server that never sees a PGP key never loads it.
 */
import { toBase64, toHex } from "../sdk/encoding.js";
import { LogicalError } from "../sdk/types.js";

type OpenPgp = typeof import("openpgp");
type PublicKey = Awaited<ReturnType<OpenPgp["readKey"]>>;

export interface PgpRecipient {
  key: PublicKey;
  /** Lower-case hex, as Vault reports `pgp_fingerprint(s)`. */
  fingerprint: string;
}

let library: Promise<OpenPgp> | undefined;
const openpgp = (): Promise<OpenPgp> => (library ??= import("openpgp"));

/** Whether a request field holds any PGP key (Vault treats "" and [] as none). */
export function hasPgpKeys(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "" && !(Array.isArray(value) && value.length === 0);
}

/**
 * Parses a field's keys before anything is generated, so a bad key refuses the request instead
 * of leaving shares no one can read.
 */
export async function readPgpKeys(field: string, value: unknown): Promise<PgpRecipient[]> {
  if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
    throw new LogicalError(400, `"${field}" must be a list of base64-encoded PGP public keys`);
  }
  return Promise.all((value as string[]).map((item, index) => readPgpKey(field, item.trim(), index)));
}

async function readPgpKey(field: string, encoded: string, index: number): Promise<PgpRecipient> {
  if (encoded.startsWith("keybase:")) {
    throw new LogicalError(
      400,
      `"${field}" entry ${index + 1}: "keybase:" keys are not supported (fetching them needs keybase.io); give the base64 of the binary public key`,
    );
  }
  const binary = decodeBase64(encoded);
  if (!binary) throw new LogicalError(400, `"${field}" entry ${index + 1}: error decoding given PGP key: not base64`);
  const pgp = await openpgp();
  let key: PublicKey;
  try {
    key = await pgp.readKey({ binaryKey: binary });
    await key.getEncryptionKey();
  } catch (error) {
    throw new LogicalError(400, `"${field}" entry ${index + 1}: error parsing given PGP key: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { key, fingerprint: key.getFingerprint().toLowerCase() };
}

/** The binary OpenPGP message holding `text` for `recipient` alone. */
export async function encryptFor(recipient: PgpRecipient, text: string): Promise<Uint8Array> {
  const pgp = await openpgp();
  const message = await pgp.createMessage({ binary: new TextEncoder().encode(text) });
  return pgp.encrypt({ message, encryptionKeys: recipient.key, format: "binary" });
}

/** Share i (hex) to key i: the messages as hex and as base64, Vault's `keys` and `keys_base64`. */
export async function encryptShares(hexShares: string[], recipients: PgpRecipient[]): Promise<[string[], string[]]> {
  const messages = await Promise.all(hexShares.map((share, index) => encryptFor(recipients[index]!, share)));
  return [messages.map(toHex), messages.map(toBase64)];
}

function decodeBase64(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}
