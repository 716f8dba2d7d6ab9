import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { ExactNumber, toHex } from "../sdk/encoding.js";

/** Values hashed between two yields to the event loop, so a large entry does not hold it. */
const HASH_BATCH = 2048;

const encoder = new TextEncoder();

/**
 * Vault's audit HMAC: `hmac-sha256:` + hex HMAC-SHA256 of the value under the device's salt.
 * Synchronous (@noble/hashes), since WebCrypto's would cost a promise and a trip through the event
 * loop per value; the salt is keyed in once and each value hashes a copy of that state.
 */
export class AuditHasher {
  private constructor(readonly keyed: ReturnType<typeof hmac.create>) {}

  static async create(salt: Uint8Array): Promise<AuditHasher> {
    return new AuditHasher(hmac.create(sha256, salt));
  }

  hash(value: string): string {
    return `hmac-sha256:${toHex(this.keyed.clone().update(encoder.encode(value)).digest())}`;
  }

  /** Empty strings stay empty (nothing to hide, and Vault leaves them so). */
  hashOptional(value: string | undefined): string | undefined {
    return value ? this.hash(value) : value;
  }

  /**
   * A copy of `value` with every non-empty string leaf hashed; object keys named in `keepKeys`
   * keep their value (accessors when `hmac_accessor` is off). The copy is made first with the
   * leaves' places noted, then the leaves are hashed in batches: no promise per value.
   */
  async hashLeaves(value: unknown, keepKeys: ReadonlySet<string> = NO_KEYS): Promise<unknown> {
    const leaves: Leaf[] = [];
    const root = { value };
    copyNoting(root, "value", keepKeys, leaves);
    for (let i = 0; i < leaves.length; i++) {
      if (i > 0 && i % HASH_BATCH === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const { holder, key } = leaves[i]!;
      holder[key] = this.hash(holder[key] as string);
    }
    return root.value;
  }
}

/** Where a string leaf of the copy is: `holder[key]`. */
interface Leaf {
  holder: Record<string | number, unknown>;
  key: string | number;
}

/** Replaces `holder[key]` by a copy of it, noting each non-empty string leaf; iterative, so depth costs no stack. */
function copyNoting(root: Record<string, unknown>, rootKey: string, keepKeys: ReadonlySet<string>, leaves: Leaf[]): void {
  const pending: Leaf[] = [{ holder: root, key: rootKey }];
  while (pending.length > 0) {
    const place = pending.pop()!;
    const item = place.holder[place.key];
    if (typeof item === "string") {
      if (item) leaves.push(place);
    } else if (Array.isArray(item)) {
      const copy = item.slice();
      place.holder[place.key] = copy;
      for (let i = 0; i < copy.length; i++) pending.push({ holder: copy as unknown as Record<number, unknown>, key: i });
    } else if (typeof item === "object" && item !== null && !(item instanceof ExactNumber)) {
      // fromEntries keeps a "__proto__" key an own property, as the parser made it.
      const copy = Object.fromEntries(Object.entries(item));
      for (const key of Object.keys(copy)) if (!keepKeys.has(key)) pending.push({ holder: copy, key });
      place.holder[place.key] = copy;
    }
  }
}

const NO_KEYS: ReadonlySet<string> = new Set();
