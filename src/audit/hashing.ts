import { ExactNumber, toHex } from "../sdk/encoding.js";

/** Vault's audit HMAC: `hmac-sha256:` + hex HMAC-SHA256 of the value under the device's salt. */
export class AuditHasher {
  private constructor(readonly key: CryptoKey) {}

  static async create(salt: Uint8Array): Promise<AuditHasher> {
    const key = await crypto.subtle.importKey("raw", new Uint8Array(salt), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    return new AuditHasher(key);
  }

  async hash(value: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", this.key, new TextEncoder().encode(value));
    return `hmac-sha256:${toHex(new Uint8Array(mac))}`;
  }

  /** Empty strings stay empty (nothing to hide, and Vault leaves them so). */
  async hashOptional(value: string | undefined): Promise<string | undefined> {
    return value ? this.hash(value) : value;
  }

  /**
   * A copy of `value` with every non-empty string leaf hashed; object keys named in `keepKeys`
   * keep their value (accessors when `hmac_accessor` is off).
   */
  async hashLeaves(value: unknown, keepKeys: ReadonlySet<string> = NO_KEYS): Promise<unknown> {
    if (typeof value === "string") return value ? this.hash(value) : value;
    if (value instanceof ExactNumber) return value;
    if (Array.isArray(value)) return Promise.all(value.map((item) => this.hashLeaves(item, keepKeys)));
    if (typeof value === "object" && value !== null) {
      const entries = await Promise.all(
        Object.entries(value).map(async ([key, item]) => [key, keepKeys.has(key) ? item : await this.hashLeaves(item, keepKeys)] as const),
      );
      return Object.fromEntries(entries);
    }
    return value;
  }
}

const NO_KEYS: ReadonlySet<string> = new Set();
