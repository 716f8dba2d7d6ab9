/**
 * IPv4/IPv6 CIDR blocks for token and secret-ID address binding, in plain TypeScript (the core cannot
 * use `node:net`). Addresses are compared as 128-bit numbers; IPv4 and IPv4-mapped IPv6
 * (`::ffff:10.0.0.1`, how Node reports IPv4 clients on a dual-stack socket) are the same address.
 */

export interface CidrBlock {
  /** The block as given, normalised to `address/bits`. */
  text: string;
  network: bigint;
  /** Prefix length in the 128-bit space. */
  bits: number;
}

const IPV4_MAPPED_PREFIX = 0xffffn << 32n;

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a single-host block); null when invalid. */
export function parseCidr(text: string): CidrBlock | null {
  const [addressText, bitsText, ...rest] = text.trim().split("/");
  if (rest.length > 0 || !addressText) return null;
  const parsed = parseAddress(addressText);
  if (!parsed) return null;
  const maxBits = parsed.v4 ? 32 : 128;
  if (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)) return null;
  const bits = bitsText === undefined ? maxBits : Number(bitsText);
  if (bits > maxBits) return null;
  const bits128 = parsed.v4 ? bits + 96 : bits;
  return { text: `${addressText}/${bits}`, network: parsed.value & mask(bits128), bits: bits128 };
}

/** Whether `address` (an IP, optionally IPv4-mapped) lies in any of `blocks`. Unparseable → false. */
export function addressInBlocks(address: string | undefined, blocks: readonly CidrBlock[]): boolean {
  const parsed = address ? parseAddress(address) : null;
  if (!parsed) return false;
  return blocks.some((block) => (parsed.value & mask(block.bits)) === block.network);
}

/** Whether every address of `inner` is also in `outer`. */
export function blockWithin(inner: CidrBlock, outer: CidrBlock): boolean {
  return inner.bits >= outer.bits && (inner.network & mask(outer.bits)) === outer.network;
}

/** Parses a list of CIDR strings, throwing a `RangeError` naming the first invalid one. */
export function parseCidrList(values: readonly string[], field: string): CidrBlock[] {
  return values.map((value) => {
    const block = parseCidr(value);
    if (!block) throw new RangeError(`${field}: invalid CIDR block or address ${JSON.stringify(value)}`);
    return block;
  });
}

function mask(bits: number): bigint {
  return bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(128 - bits);
}

/** The address as a 128-bit value (IPv4 mapped into ::ffff:0:0/96) and whether it was written as IPv4. */
function parseAddress(text: string): { value: bigint; v4: boolean } | null {
  const unbracketed = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, ""); // zone ids are irrelevant here
  const v4 = parseIpv4(unbracketed);
  if (v4 !== null) return { value: IPV4_MAPPED_PREFIX | v4, v4: true };
  const v6 = parseIpv6(unbracketed);
  return v6 === null ? null : { value: v6, v4: false };
}

function parseIpv4(text: string): bigint | null {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
}

function parseIpv6(text: string): bigint | null {
  if (!text.includes(":")) return null;
  // A dotted IPv4 tail (`::ffff:10.0.0.1`) is the last two groups written differently.
  const lastColon = text.lastIndexOf(":");
  let groupsText = text;
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = parseIpv4(text.slice(lastColon + 1));
    if (v4 === null) return null;
    groupsText = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = groupsText.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = parseGroups(halves[0]!);
  const after = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if ([...head, ...after].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const explicit = head.length + after.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return null;
  const groups = [...head, ...Array<string>(8 - explicit).fill("0"), ...after];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n);
}
