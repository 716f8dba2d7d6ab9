/**
 * Test-only preload (`node --import`) that shifts this process's wall clock — `Date.now()` and
 * `new Date()` — by STRONGBOX_TEST_CLOCK_SKEW_MS. `performance.now()` and timers stay untouched,
 * like a host whose clock is set wrong.
 */
const skewMs = Number(process.env.STRONGBOX_TEST_CLOCK_SKEW_MS ?? 0);
const RealDate = Date;

function SkewedDate(...args) {
  if (!new.target) return new RealDate(RealDate.now() + skewMs).toString();
  return Reflect.construct(RealDate, args.length === 0 ? [RealDate.now() + skewMs] : args, new.target);
}
SkewedDate.prototype = RealDate.prototype;
SkewedDate.now = () => RealDate.now() + skewMs;
SkewedDate.parse = RealDate.parse;
SkewedDate.UTC = RealDate.UTC;
globalThis.Date = SkewedDate;
