// throwaway (deleted after use): per-write trace around a step-down
import { api, startCluster } from "../test/helpers/cluster.js";
import { startDynamoDBLocal } from "../test/helpers/dynamodb-local.js";
import { sleep, startTsChild } from "./processes.js";
import { mountKvV2 } from "./setup.js";
const dynamodb = await startDynamoDBLocal();
const s3 = await startTsChild<{ endpoint: string; bucket: string }>("./s3-process.ts");
const cluster = await startCluster({ dynamodbEndpoint: dynamodb.endpoint, s3Endpoint: s3.info.endpoint, s3Bucket: s3.info.bucket }, { size: 3 });
await mountKvV2(await cluster.waitForActive(), cluster.rootToken);
await sleep(1500);
for (const kind of ["step-down", "sigterm", "step-down"]) {
  const active = await cluster.waitForActive();
  const others = cluster.nodes.filter((n) => n !== active);
  for (const n of others) await api(n, "PUT", "secret/data/x", { data: { a: 1 } }, cluster.rootToken);
  const t0 = performance.now();
  const trace: string[] = [];
  if (kind === "step-down") void api(active, "PUT", "sys/step-down", undefined, cluster.rootToken).then((r) => trace.push(`${(performance.now() - t0).toFixed(0)} step-down answered ${r.status}`));
  else active.process!.child.kill("SIGTERM");
  let done = false;
  await Promise.all(others.map(async (n) => {
    while (!done && performance.now() - t0 < 12000) {
      const s = performance.now();
      const r = await fetch(`http://127.0.0.1:${n.port}/v1/secret/data/x`, { method: "PUT", redirect: "manual", headers: { "x-vault-token": cluster.rootToken }, body: JSON.stringify({ data: { a: 2 } }) });
      const text = await r.text();
      trace.push(`${(s - t0).toFixed(0)}-${(performance.now() - t0).toFixed(0)} n${n.index} ${r.status} ${text.slice(0, 80).replace(/\n/g, "")}`);
      if (r.status < 300) done = true;
      await sleep(20);
    }
  }));
  console.log(`== ${kind} of n${active.index}\n${trace.join("\n")}`);
  if (kind === "sigterm") { await cluster.start(active); await cluster.unseal(active); }
  await sleep(11000);
}
await cluster.stop(); await s3.stop(); await dynamodb.stop();
