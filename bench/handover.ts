import { api, type Cluster, type ClusterNode } from "../test/helpers/cluster.js";
import { type WriterCounts, Writers } from "../test/helpers/writers.js";
import { sleep } from "./processes.js";
import type { BenchReport } from "./report.js";
import { round } from "./stats.js";

type Change = "sys/step-down" | "SIGTERM of the active" | "rolling restart";

export interface HandoverPlan {
  stepDowns: number;
  sigterms: number;
  rollingRestarts: number;
}

interface Trial {
  change: Change;
  trial: number;
  requests: number;
  failed: number;
  /** The first few failures, as the clients saw them. */
  failures: string[];
}

const CLIENTS = 4;
/** The server's default `ha_step_down_cooldown`; step-downs are spaced past it so both standbys contend. */
const STEP_DOWN_COOLDOWN_MS = 10_000;
/** A node asked to stop gets this long to drain and exit before SIGKILL (a failed benchmark). */
const STOP_GRACE_MS = 20_000;
/** Acknowledged writes after each change before its window closes: the cluster serves again. */
const WRITES_AFTER = 20;
const REPORTED_FAILURES = 3;

/** Counts the clients' requests and failures while `change` runs. */
async function measure(writers: Writers, change: Change, trial: number, run: () => Promise<void>): Promise<Trial> {
  const before: WriterCounts = writers.counts();
  await run();
  await writers.moreWrites(WRITES_AFTER);
  const after = writers.counts();
  const result = {
    change,
    trial,
    requests: after.requests - before.requests,
    failed: after.failed - before.failed,
    failures: writers.failures.slice(before.failed, before.failed + REPORTED_FAILURES),
  };
  process.stderr.write(`  handover ${change} #${trial}: ${result.failed} of ${result.requests} requests failed\n`);
  return result;
}

/**
 * SIGTERM-restarts `node` as an operator behind a load balancer would: the clients stop sending to
 * it first (their requests on it finish), so only the nodes that stay up are measured.
 */
async function restart(cluster: Cluster, writers: Writers, node: ClusterNode): Promise<void> {
  await writers.avoid(node);
  const code = await node.process!.stop(STOP_GRACE_MS);
  if (code !== 0) throw new Error(`node ${node.index} exited with ${code} after SIGTERM`);
  await cluster.start(node);
  await cluster.unseal(node);
  writers.include(node);
}

/** Runs `changes` with fresh writers, then counts the acknowledged writes the cluster no longer holds. */
async function phase(cluster: Cluster, changes: (writers: Writers) => Promise<Trial[]>): Promise<{ trials: Trial[]; lost: string[] }> {
  const writers = new Writers(
    cluster,
    cluster.nodes.filter((node) => node.process),
    CLIENTS,
  );
  let trials: Trial[];
  try {
    await writers.moreWrites(WRITES_AFTER);
    trials = await changes(writers);
  } finally {
    await writers.stop();
  }
  return { trials, lost: await writers.lostWrites() };
}

export async function benchHandover(cluster: Cluster, plan: HandoverPlan): Promise<BenchReport> {
  await cluster.waitForActive();
  // A step-down in an earlier benchmark may still keep a node out of the election.
  await sleep(STEP_DOWN_COOLDOWN_MS);

  const stepDowns = await phase(cluster, async (writers) => {
    const trials: Trial[] = [];
    for (let trial = 1; trial <= plan.stepDowns; trial++) {
      const steppedDownAt = performance.now();
      trials.push(
        await measure(writers, "sys/step-down", trial, async () => {
          const active = await cluster.waitForActive();
          const answer = await api(active, "PUT", "sys/step-down", undefined, cluster.rootToken);
          if (answer.status !== 204) throw new Error(`sys/step-down answered ${answer.status}`);
          await cluster.waitForActive({ not: active });
          // The window spans the whole interval to the next step-down, writes going on all along.
          await sleep(Math.max(0, steppedDownAt + STEP_DOWN_COOLDOWN_MS + 500 - performance.now()));
        }),
      );
    }
    return trials;
  });

  const sigterms = await phase(cluster, async (writers) => {
    const trials: Trial[] = [];
    for (let trial = 1; trial <= plan.sigterms; trial++) {
      trials.push(await measure(writers, "SIGTERM of the active", trial, async () => restart(cluster, writers, await cluster.waitForActive())));
    }
    return trials;
  });

  const rolling = await phase(cluster, async (writers) => {
    const trials: Trial[] = [];
    for (let trial = 1; trial <= plan.rollingRestarts; trial++) {
      trials.push(
        await measure(writers, "rolling restart", trial, async () => {
          const active = await cluster.waitForActive();
          for (const node of [...cluster.nodes.filter((n) => n !== active), active]) {
            await restart(cluster, writers, node);
            await writers.moreWrites(WRITES_AFTER);
          }
        }),
      );
    }
    return trials;
  });

  const phases = [stepDowns, sigterms, rolling];
  const rows = phases.map(({ trials, lost }) => {
    const requests = trials.reduce((sum, t) => sum + t.requests, 0);
    const failed = trials.reduce((sum, t) => sum + t.failed, 0);
    return [
      trials[0]!.change,
      trials.length,
      trials.map((t) => t.failed).join(", "),
      failed,
      requests,
      `${round((100 * failed) / Math.max(1, requests), 2)} %`,
      lost.length,
    ];
  });
  const failureNotes = phases.flatMap(({ trials }) =>
    trials.filter((t) => t.failed > 0).map((t) => `${t.change} #${t.trial}, first failures: ${t.failures.join("; ")}`),
  );
  return {
    name: "handover",
    title: "Leadership changes: failed client requests while the active changes",
    columns: ["leadership change", "trials", "failed requests per trial", "failed in total", "requests in the windows", "failed %", "lost acknowledged writes"],
    rows,
    notes: [
      `3 nodes, S3 stand-in for data, DynamoDB Local for the lock, default HA timings. ${CLIENTS} clients each write their own KV v2 key continuously, round-robin through every node that is up, following 307s as Vault clients do (and, as Vault's client does for connection errors, sending a request that got no answer at all once more; answers are never retried); a failed request is any that does not end in a 2xx (or takes over 30 s).`,
      `Step-downs are ${(STEP_DOWN_COOLDOWN_MS + 500) / 1000} s apart (past the cool-down); each one's window is that whole interval. SIGTERM: the clients stop sending to the active first (as a load balancer reading its health would), then it is stopped, restarted and unsealed. Rolling restart: the three nodes one by one that way, active last.`,
      `Each window ends after ${WRITES_AFTER} more acknowledged writes. Lost: keys whose stored value, read once the clients stopped, is not the last one acknowledged (checked after each kind of change).`,
      ...failureNotes,
    ],
    data: { plan, trials: phases.flatMap((p) => p.trials), lost: phases.flatMap((p) => p.lost) },
  };
}
