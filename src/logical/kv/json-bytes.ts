/** Storage entries of the KV engines are JSON encoded as UTF-8. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function toJsonBytes(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function fromJsonBytes<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes)) as T;
}
