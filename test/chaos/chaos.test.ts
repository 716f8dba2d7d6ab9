import { describe, expect, inject, it } from "vitest";
import { defaultChaosOptions, runScenario } from "./run.js";
import { scenarios } from "./scenarios.js";

/**
 * The short version of `npm run chaos`: one round each of six scenarios (data in DynamoDB, etcd or
 * ZooKeeper with fencing, and in S3), on real node processes behind fault proxies.
 */
describe("chaos: never two actives, never a lost acknowledged write", () => {
  const stores = () => ({
    dynamodbEndpoint: inject("dynamodbEndpoint"),
    s3Endpoint: inject("s3Endpoint"),
    s3Bucket: inject("s3Bucket"),
    etcdEndpoint: inject("etcdEndpoint"),
    zookeeperAddress: inject("zookeeperAddress"),
  });

  for (const name of ["active-paused", "cluster-port-cut", "standby-paused", "clock-skew", "active-paused-etcd", "active-paused-zookeeper"]) {
    it(name, async () => {
      const scenario = scenarios.find((s) => s.name === name)!;
      const result = await runScenario(stores(), scenario, { ...defaultChaosOptions, rounds: 1 });
      expect(result.errors).toEqual([]);
      expect(result.rounds).toBe(1);
      expect(result.ackedWrites).toBeGreaterThan(0);
      expect(result.reads).toBeGreaterThan(0);
      // Failed requests are only reported: faults here are meant to fail some.
      expect(result.requests).toBeGreaterThanOrEqual(result.ackedWrites + result.reads);
      expect(result.violations).toEqual([]);
      expect({ lost: result.lost, stale: result.stale, dualActive: result.dualActive.length, slowRounds: result.slowRounds }).toEqual({
        lost: 0,
        stale: 0,
        dualActive: 0,
        slowRounds: 0,
      });
      // Clock skew: the nodes' wall clocks really were off.
      for (const [i, skewMs] of (scenario.skewsMs ?? []).entries()) expect(Math.abs(result.observedSkewsS[i]! - skewMs / 1000)).toBeLessThan(5);
    }, 120_000);
  }
});
