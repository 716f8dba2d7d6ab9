/**
 * Runs before every test file (vitest.config.ts): inject() of a value that this file's tier did not
 * provide throws, naming the tier, instead of returning undefined — a unit test that needs a
 * service fails at once, not later with a confusing connection error. inject() reads vitest's
 * worker state, so the guard wraps that; if vitest moves it, every file fails here saying so.
 */
type WorkerState = { providedContext: Record<string, unknown> };

const state = (globalThis as { __vitest_worker__?: WorkerState }).__vitest_worker__;
if (!state?.providedContext) throw new Error("test/helpers/tier-guard.ts: vitest's worker state has no providedContext any more; update the guard");

const provided = state.providedContext;
const tier = provided.tier;
state.providedContext = new Proxy(provided, {
  get(target, key, receiver) {
    if (typeof key === "string" && !(key in target)) {
      throw new Error(`inject("${key}"): the ${String(tier)} tier starts no such service; list the file under a tier that does in test/tiers.ts`);
    }
    return Reflect.get(target, key, receiver);
  },
});
