import { describe, expect, it } from "vitest";
import { combineShares, splitSecret, validateShareParameters } from "../../src/seal/shamir.js";

function subsets<T>(items: T[], size: number): T[][] {
  if (size === 0) return [[]];
  return items.flatMap((item, i) => subsets(items.slice(i + 1), size - 1).map((rest) => [item, ...rest]));
}

/** Independent GF(2^8) multiply, reduction polynomial x^8 + x^4 + x^3 + x + 1 (0x11b, as AES and Vault). */
function gfMul(a: number, b: number): number {
  let product = 0;
  for (; b > 0; b >>= 1) {
    if (b & 1) product ^= a;
    a = a & 0x80 ? (a << 1) ^ 0x11b : a << 1;
  }
  return product;
}

/** Horner evaluation of coefficients[0] + coefficients[1]·x + … in GF(2^8) (addition is XOR). */
function gfEval(coefficients: number[], x: number): number {
  return coefficients.reduceRight((acc, c) => gfMul(acc, x) ^ c, 0);
}

const secret = crypto.getRandomValues(new Uint8Array(32));

describe("splitSecret / combineShares", () => {
  it("rebuilds the secret from every threshold-sized subset of 5/3", async () => {
    const shares = await splitSecret(secret, 5, 3);
    expect(shares).toHaveLength(5);
    for (const share of shares) expect(share).toHaveLength(secret.length + 1);
    const chosen = subsets(shares, 3);
    expect(chosen).toHaveLength(10);
    for (const subset of chosen) expect(await combineShares(subset)).toEqual(secret);
    expect(await combineShares(shares)).toEqual(secret);
  });

  it("does not rebuild the secret from threshold - 1 shares", async () => {
    const shares = await splitSecret(secret, 5, 3);
    for (const subset of subsets(shares, 2)) expect(await combineShares(subset)).not.toEqual(secret);
  });

  it("hands out the secret itself for 1 of 1", async () => {
    const [share] = await splitSecret(secret, 1, 1);
    expect(share).toEqual(secret);
    expect(await combineShares([share!])).toEqual(secret);
  });

  it("supports the extremes 255/255 and 2/2", async () => {
    const many = await splitSecret(secret.subarray(0, 4), 255, 255);
    expect(new Set(many.map((share) => share[4])).size).toBe(255);
    expect(await combineShares(many)).toEqual(secret.subarray(0, 4));
    const two = await splitSecret(secret, 2, 2);
    expect(await combineShares(two)).toEqual(secret);
  });

  it("combines a hand-built share set to the expected secret", async () => {
    // Sanity of the reference multiply: FIPS-197's worked example {57}·{83} = {c1}.
    expect(gfMul(0x57, 0x83)).toBe(0xc1);
    // One degree-2 polynomial per secret byte; the constant term is the secret byte.
    const polynomials = [
      [0x42, 0x1d, 0xb7],
      [0x00, 0xff, 0x01],
      [0xff, 0x80, 0x6a],
    ];
    const expected = new Uint8Array(polynomials.map((p) => p[0]!));
    const xs = [0x01, 0x02, 0x53, 0xca, 0xff];
    const shares = xs.map((x) => new Uint8Array([...polynomials.map((p) => gfEval(p, x)), x]));
    for (const subset of subsets(shares, 3)) expect(await combineShares(subset)).toEqual(expected);
  });

  it("rejects share parameters Vault rejects", async () => {
    const bad: Array<[number, number, RegExp]> = [
      [0, 0, /shares must be at least one/],
      [256, 3, /at most 255/],
      [5, 0, /threshold must be at least one/],
      [3, 4, /larger than shares/],
      [5, 1, /greater than one for multiple shares/],
      [2.5, 2, /shares must be at least one/],
      [5, Number.NaN, /threshold must be at least one/],
    ];
    for (const [shares, threshold, message] of bad) {
      expect(() => validateShareParameters(shares, threshold)).toThrow(RangeError);
      await expect(splitSecret(secret, shares, threshold)).rejects.toThrow(message);
    }
    await expect(splitSecret(new Uint8Array(), 3, 2)).rejects.toBeInstanceOf(RangeError);
  });

  it("rejects duplicate and malformed shares", async () => {
    const shares = await splitSecret(secret, 5, 3);
    await expect(combineShares([])).rejects.toThrow(/at least one share/);
    await expect(combineShares([shares[0]!, shares[1]!, shares[0]!])).rejects.toThrow(/duplicate/);
    const sameX = shares[1]!.slice();
    sameX[sameX.length - 1] = shares[0]![shares[0]!.length - 1]!;
    await expect(combineShares([shares[0]!, sameX])).rejects.toThrow(/duplicate/);
    await expect(combineShares([shares[0]!, shares[1]!.subarray(1)])).rejects.toThrow(/different lengths/);
    await expect(combineShares([new Uint8Array([1]), new Uint8Array([2])])).rejects.toThrow(/too short/);
    const zeroX = shares[1]!.slice();
    zeroX[zeroX.length - 1] = 0;
    await expect(combineShares([shares[0]!, zeroX])).rejects.toThrow(/x coordinate 0/);
    await expect(combineShares([shares[0]!, "nope" as unknown as Uint8Array])).rejects.toThrow(/byte array/);
  });
});
