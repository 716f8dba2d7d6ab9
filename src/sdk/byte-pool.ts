/**
 * Short-lived byte arrays cut from shared slabs, as Node's Buffer pool does. V8 gives every typed
 * array over 64 bytes an off-heap store its collector must track, and making one costs several
 * times the AES-GCM of the same kilobyte; a view into a slab costs next to nothing. A view keeps
 * its whole slab alive, so nothing long-lived should hold one, and no holder may reach past its
 * view (`.buffer`), where other callers' bytes lie.
 */
const SLAB_BYTES = 64 * 1024;
/** Larger arrays are made on their own: a slab is worth sharing only among many small ones. */
const POOLED_MAX_BYTES = 4 * 1024;

let slab = new Uint8Array(0);
let used = 0;

/** A zero-filled array of `length` bytes, like `new Uint8Array(length)`. */
export function pooledBytes(length: number): Uint8Array<ArrayBuffer> {
  if (length > POOLED_MAX_BYTES) return new Uint8Array(length);
  if (used + length > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    used = 0;
  }
  const view = slab.subarray(used, used + length);
  // Eight-byte alignment, so a view can back any typed array.
  used = (used + length + 7) & ~7;
  return view;
}
