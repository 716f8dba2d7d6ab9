import { type Backend } from "../physical/backend.js";
import { readShared } from "../sdk/types.js";
import { SizedLru } from "../sdk/lru.js";
import { InvalidKeyError, SealedError, type SecurityBarrier, TamperedError } from "./types.js";

/** Entries the barrier keeps for itself; unreachable through its `Storage` methods. */
export const BARRIER_RESERVED_PREFIX = "core/barrier/";
/** Root key, encrypted with the unseal key. Its presence is what "initialized" means. */
export const ROOT_KEY_PATH = `${BARRIER_RESERVED_PREFIX}root-key`;
/** Keyring (term → AES-256 key, active term), encrypted with the root key. */
export const KEYRING_PATH = `${BARRIER_RESERVED_PREFIX}keyring`;

const ENTRY_VERSION = 1;
const KEYRING_VERSION = 1;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const NONCE_OFFSET = 1 + 4;
const HEADER_BYTES = NONCE_OFFSET + NONCE_BYTES;
/** Term written in the header of entries sealed by the unseal or root key rather than a keyring term. */
const NON_KEYRING_TERM = 0;

const textEncoder = new TextEncoder();
/** Bounds of the decrypted-entry memo: hot entries only, small ones only. */
const MEMO_LIMITS = { entries: 8192, bytes: 16 * 1024 * 1024 };
const MEMO_MAX_ENTRY_BYTES = 16 * 1024;

interface Unsealed {
  rootKey: CryptoKey;
  termKeys: Map<number, CryptoKey>;
  activeTerm: number;
}

interface Keyring {
  activeTerm: number;
  keys: Map<number, Uint8Array>;
}

/**
 * SecurityBarrier over a physical `Backend`: every value is AES-256-GCM encrypted with the active
 * keyring term, bound to its path as additional authenticated data. Entry layout:
 * `[version 1 byte][term uint32 BE][nonce 12 bytes][ciphertext + 16-byte tag]`.
 */
export class AesGcmBarrier implements SecurityBarrier {
  readonly #backend: Backend;
  #unsealed: Unsealed | null = null;
  /** Serialises keyring writes (rotate) so two rotations never overwrite each other's term. */
  #keyringWrites: Promise<unknown> = Promise.resolve();
  /** Counts seal() calls, so an unseal that was in flight during one does not reopen the barrier. */
  #seals = 0;
  /** Encryptions with the active term since the last `takeEncryptions()`. */
  #encryptions = 0;
  /**
   * Path → the stored entry and its plaintext, so reading an unchanged entry again skips AES-GCM.
   * Used only when storage returns exactly the bytes decrypted before, which authenticate to the same
   * plaintext under the same path and term key; so it needs no invalidation and serves standbys too.
   */
  readonly #decrypted = new SizedLru<{ entry: Uint8Array; plaintext: Uint8Array }>(MEMO_LIMITS);

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get sealed(): boolean {
    return this.#unsealed === null;
  }

  async initialized(): Promise<boolean> {
    return (await this.#backend.get(ROOT_KEY_PATH)) !== null;
  }

  async initialize(unsealKey: Uint8Array): Promise<void> {
    if (unsealKey.length !== KEY_BYTES) {
      throw new RangeError(`unseal key must be ${KEY_BYTES} bytes, got ${unsealKey.length}`);
    }
    if (await this.initialized()) {
      throw new Error("security barrier is already initialized");
    }
    const rootKeyBytes = randomBytes(KEY_BYTES);
    const firstTermKey = randomBytes(KEY_BYTES);
    try {
      const rootKey = await importAesKey(rootKeyBytes);
      const keyring = encodeKeyring({ activeTerm: 1, keys: new Map([[1, firstTermKey]]) });
      // Keyring first, root key last: a crash in between leaves the barrier uninitialized and retryable.
      await this.#backend.put(KEYRING_PATH, await encrypt(rootKey, NON_KEYRING_TERM, KEYRING_PATH, keyring));
      keyring.fill(0);
      const unsealCryptoKey = await importAesKey(unsealKey);
      await this.#backend.put(ROOT_KEY_PATH, await encrypt(unsealCryptoKey, NON_KEYRING_TERM, ROOT_KEY_PATH, rootKeyBytes));
    } finally {
      rootKeyBytes.fill(0);
      firstTermKey.fill(0);
    }
  }

  async unseal(unsealKey: Uint8Array): Promise<void> {
    if (unsealKey.length !== KEY_BYTES) {
      throw new InvalidKeyError(`unseal key must be ${KEY_BYTES} bytes`);
    }
    const sealsBefore = this.#seals;
    const sealedRootKey = await this.#backend.get(ROOT_KEY_PATH);
    if (sealedRootKey === null) {
      throw new Error("security barrier is not initialized");
    }
    let rootKeyBytes: Uint8Array;
    try {
      rootKeyBytes = await decrypt(await importAesKey(unsealKey), sealedRootKey, ROOT_KEY_PATH);
    } catch (error) {
      if (error instanceof TamperedError) {
        throw new InvalidKeyError("unseal key does not decrypt the root key");
      }
      throw error;
    }
    if (!this.sealed) {
      rootKeyBytes.fill(0);
      return;
    }
    const rootKey = await importAesKey(rootKeyBytes);
    rootKeyBytes.fill(0);
    const keyring = await this.#readKeyring(rootKey);
    const imported = await importKeyring(keyring);
    for (const key of keyring.keys.values()) key.fill(0);
    // A seal() issued while we were reading wins over this unseal.
    if (this.#seals === sealsBefore) {
      this.#unsealed = { rootKey, ...imported };
    }
  }

  async verifyUnsealKey(unsealKey: Uint8Array): Promise<boolean> {
    const rootKeyBytes = await this.#openRootKey(unsealKey);
    rootKeyBytes?.fill(0);
    return rootKeyBytes !== null;
  }

  async rewrapRootKey(currentUnsealKey: Uint8Array, newUnsealKey: Uint8Array): Promise<void> {
    if (newUnsealKey.length !== KEY_BYTES) throw new RangeError(`unseal key must be ${KEY_BYTES} bytes, got ${newUnsealKey.length}`);
    const rootKeyBytes = await this.#openRootKey(currentUnsealKey);
    if (!rootKeyBytes) throw new InvalidKeyError("unseal key does not decrypt the root key");
    try {
      // One put: the root key is wrapped by either the old or the new unseal key, never neither.
      await this.#backend.put(ROOT_KEY_PATH, await encrypt(await importAesKey(newUnsealKey), NON_KEYRING_TERM, ROOT_KEY_PATH, rootKeyBytes));
    } finally {
      rootKeyBytes.fill(0);
    }
  }

  /** The root key's bytes if `unsealKey` decrypts the stored root key, else null. */
  async #openRootKey(unsealKey: Uint8Array): Promise<Uint8Array | null> {
    const sealedRootKey = await this.#backend.get(ROOT_KEY_PATH);
    if (sealedRootKey === null) throw new Error("security barrier is not initialized");
    if (unsealKey.length !== KEY_BYTES) return null;
    try {
      return await decrypt(await importAesKey(unsealKey), sealedRootKey, ROOT_KEY_PATH);
    } catch (error) {
      if (error instanceof TamperedError) return null;
      throw error;
    }
  }

  seal(): void {
    this.#unsealed = null;
    this.#decrypted.clear();
    this.#seals++;
  }

  activeTerm(): number {
    return this.#state().activeTerm;
  }

  takeEncryptions(): number {
    const count = this.#encryptions;
    this.#encryptions = 0;
    return count;
  }

  async reloadKeyring(): Promise<void> {
    const state = this.#state();
    const sealsBefore = this.#seals;
    const keyring = await this.#readKeyring(state.rootKey);
    const imported = await importKeyring(keyring);
    for (const key of keyring.keys.values()) key.fill(0);
    this.#install(sealsBefore, imported);
  }

  rotate(): Promise<number> {
    const rotation = this.#keyringWrites.then(() => this.#rotate());
    this.#keyringWrites = rotation.catch(() => undefined);
    return rotation;
  }

  async get(key: string): Promise<Uint8Array | null> {
    const plaintext = await this.getShared(key);
    return plaintext && plaintext.slice();
  }

  /**
   * The memo's plaintext itself (see Backend.getShared): the same object for as long as storage
   * holds the same entry and the memo keeps it, so what callers derive from it can be remembered.
   */
  async getShared(key: string): Promise<Uint8Array | null> {
    const state = this.#state();
    checkLogicalKey(key);
    const entry = await readShared(this.#backend, key);
    if (entry === null) return null;
    const known = this.#decrypted.get(key);
    if (known && (known.entry === entry || sameBytes(known.entry, entry))) {
      // The read cache hands out one object per entry: next time identity answers without the comparison.
      known.entry = entry;
      return known.plaintext;
    }
    const term = entryTerm(entry, key);
    const termKey = state.termKeys.get(term) ?? (await this.#termAddedElsewhere(state, term));
    if (termKey === undefined) {
      throw new TamperedError(`entry at "${key}" names unknown keyring term ${term}`);
    }
    const plaintext = await decrypt(termKey, entry, key);
    this.#remember(key, entry, plaintext);
    return plaintext;
  }

  async put(key: string, value: Uint8Array): Promise<void> {
    const state = this.#state();
    checkLogicalKey(key);
    const termKey = state.termKeys.get(state.activeTerm)!;
    const entry = await encrypt(termKey, state.activeTerm, key, value);
    this.#decrypted.delete(key);
    await this.#backend.put(key, entry);
    this.#encryptions++;
    // A copy: the caller still owns `value`, and the memo's plaintext is shared with readers.
    this.#remember(key, entry, value.slice());
  }

  async delete(key: string): Promise<void> {
    this.#state();
    checkLogicalKey(key);
    this.#decrypted.delete(key);
    await this.#backend.delete(key);
  }

  /** Keeps `plaintext` itself (no one else may modify it): getShared hands it out. */
  #remember(key: string, entry: Uint8Array, plaintext: Uint8Array): void {
    if (this.sealed || entry.length > MEMO_MAX_ENTRY_BYTES) return;
    this.#decrypted.set(key, { entry, plaintext }, entry.length + plaintext.length + key.length * 2 + 64);
  }

  async list(prefix: string): Promise<string[]> {
    this.#state();
    checkLogicalKey(prefix);
    return this.#backend.list(prefix);
  }

  /**
   * Swaps in a freshly read keyring, unless a seal() happened since it was read or a concurrent
   * reload already installed a newer one.
   */
  #install(sealsBefore: number, keyring: Pick<Unsealed, "termKeys" | "activeTerm">): void {
    const current = this.#unsealed;
    if (current === null || this.#seals !== sealsBefore) return;
    if (newestTerm(keyring.termKeys) < newestTerm(current.termKeys)) return;
    this.#unsealed = { rootKey: current.rootKey, ...keyring };
  }

  #state(): Unsealed {
    if (this.#unsealed === null) throw new SealedError();
    return this.#unsealed;
  }

  async #readKeyring(rootKey: CryptoKey): Promise<Keyring> {
    const sealedKeyring = await this.#backend.get(KEYRING_PATH);
    if (sealedKeyring === null) {
      throw new TamperedError("keyring is missing although the root key exists");
    }
    const encoded = await decrypt(rootKey, sealedKeyring, KEYRING_PATH);
    try {
      return decodeKeyring(encoded);
    } finally {
      encoded.fill(0);
    }
  }

  async #rotate(): Promise<number> {
    const state = this.#state();
    const sealsBefore = this.#seals;
    // Re-read the stored keyring rather than trusting memory: another node may have rotated, and
    // term keys in memory are non-extractable, so they could not be re-encrypted anyway.
    const keyring = await this.#readKeyring(state.rootKey);
    const newTerm = newestTerm(keyring.keys) + 1;
    keyring.keys.set(newTerm, randomBytes(KEY_BYTES));
    keyring.activeTerm = newTerm;
    const encoded = encodeKeyring(keyring);
    try {
      await this.#backend.put(KEYRING_PATH, await encrypt(state.rootKey, NON_KEYRING_TERM, KEYRING_PATH, encoded));
      this.#install(sealsBefore, await importKeyring(keyring));
      return newTerm;
    } finally {
      encoded.fill(0);
      for (const key of keyring.keys.values()) key.fill(0);
    }
  }

  /**
   * A term newer than any we hold was most likely added by a rotation on another node sharing
   * this storage: reload the keyring once. Older unknown terms are never valid.
   */
  async #termAddedElsewhere(state: Unsealed, term: number): Promise<CryptoKey | undefined> {
    if (term <= newestTerm(state.termKeys)) return undefined;
    const sealsBefore = this.#seals;
    const keyring = await this.#readKeyring(state.rootKey);
    const imported = await importKeyring(keyring);
    for (const key of keyring.keys.values()) key.fill(0);
    this.#install(sealsBefore, imported);
    return imported.termKeys.get(term);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function newestTerm(keys: Map<number, unknown>): number {
  return Math.max(...keys.keys());
}

function checkLogicalKey(key: string): void {
  if (key.startsWith(BARRIER_RESERVED_PREFIX)) {
    throw new Error(`"${key}" is reserved for the security barrier`);
  }
}

function randomBytes(length: number): Uint8Array<ArrayBuffer> {
  return crypto.getRandomValues(new Uint8Array(length));
}

async function importAesKey(raw: Uint8Array): Promise<CryptoKey> {
  const copy = new Uint8Array(raw);
  try {
    return await crypto.subtle.importKey("raw", copy, "AES-GCM", false, ["encrypt", "decrypt"]);
  } finally {
    copy.fill(0);
  }
}

async function importKeyring(keyring: Keyring): Promise<Pick<Unsealed, "termKeys" | "activeTerm">> {
  const termKeys = new Map<number, CryptoKey>();
  for (const [term, raw] of keyring.keys) termKeys.set(term, await importAesKey(raw));
  return { termKeys, activeTerm: keyring.activeTerm };
}

async function encrypt(key: CryptoKey, term: number, path: string, plaintext: Uint8Array): Promise<Uint8Array> {
  const nonce = randomBytes(NONCE_BYTES);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: textEncoder.encode(path) }, key, new Uint8Array(plaintext)),
  );
  const entry = new Uint8Array(HEADER_BYTES + ciphertext.length);
  entry[0] = ENTRY_VERSION;
  new DataView(entry.buffer).setUint32(1, term);
  entry.set(nonce, NONCE_OFFSET);
  entry.set(ciphertext, HEADER_BYTES);
  return entry;
}

/** The header's term, once the entry is known to be long enough and of a version we write. */
function entryTerm(entry: Uint8Array, path: string): number {
  if (entry.length < HEADER_BYTES + TAG_BYTES || entry[0] !== ENTRY_VERSION) {
    throw new TamperedError(`entry at "${path}" is malformed`);
  }
  return new DataView(entry.buffer, entry.byteOffset, entry.byteLength).getUint32(1);
}

/** Any failure to authenticate (wrong key, altered bytes, other path) is reported as `TamperedError`. */
async function decrypt(key: CryptoKey, entry: Uint8Array, path: string): Promise<Uint8Array> {
  entryTerm(entry, path);
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: entry.slice(NONCE_OFFSET, HEADER_BYTES), additionalData: textEncoder.encode(path) },
        key,
        entry.slice(HEADER_BYTES),
      ),
    );
  } catch {
    throw new TamperedError(`entry at "${path}" failed authentication`);
  }
}

/** `[version][active term uint32][count uint32]` then `count` × `[term uint32][32-byte key]`. */
function encodeKeyring(keyring: Keyring): Uint8Array {
  const bytes = new Uint8Array(9 + keyring.keys.size * (4 + KEY_BYTES));
  const view = new DataView(bytes.buffer);
  bytes[0] = KEYRING_VERSION;
  view.setUint32(1, keyring.activeTerm);
  view.setUint32(5, keyring.keys.size);
  let offset = 9;
  for (const [term, key] of keyring.keys) {
    view.setUint32(offset, term);
    bytes.set(key, offset + 4);
    offset += 4 + KEY_BYTES;
  }
  return bytes;
}

function decodeKeyring(bytes: Uint8Array): Keyring {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 9 || bytes[0] !== KEYRING_VERSION) {
    throw new TamperedError("keyring has an unknown format");
  }
  const activeTerm = view.getUint32(1);
  const count = view.getUint32(5);
  if (bytes.length !== 9 + count * (4 + KEY_BYTES)) {
    throw new TamperedError("keyring has an unexpected length");
  }
  const keys = new Map<number, Uint8Array>();
  for (let offset = 9; offset < bytes.length; offset += 4 + KEY_BYTES) {
    keys.set(view.getUint32(offset), bytes.slice(offset + 4, offset + 4 + KEY_BYTES));
  }
  if (!keys.has(activeTerm)) {
    throw new TamperedError("keyring's active term has no key");
  }
  return { activeTerm, keys };
}
