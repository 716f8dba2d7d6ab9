/** The parts of tdigest (prom-client's own quantile digest) that WindowedSummary uses; the package ships no types. */
declare module "tdigest" {
  export class TDigest {
    push(value: number, count?: number): void;
    push_centroid(centroids: { mean: number; n: number }[]): void;
    toArray(): { mean: number; n: number }[];
    percentile(p: number): number | undefined;
    size(): number;
  }
}
