/**
 * Read leases, the active's side (standby reads; the standby's side and the argument are in
 * read-lease.ts).
 *
 * A standby asks for a lease on a channel of its own; the active grants it for at most as long as
 * its own hold on the lock is certain, and from then until the lease runs out it acknowledges no
 * write before that standby has acknowledged hearing of it (or the lease ran out, on the active's
 * clock). Before releasing the lock (step-down, shutdown, seal) it revokes every lease the same
 * way, since the next active may write at once.
 */
import { monotonicClock } from "../physical/ha.js";
import { type ActiveMessage, formatMessage, parseStandbyMessage } from "./read-lease-protocol.js";

/** The longest lease granted: how long a silent standby can hold up the active's writes. */
export const MAX_READ_LEASE_MS = 1_000;
/** Shorter leases are not worth granting: the standby would have to ask again at once. */
const MIN_READ_LEASE_MS = 50;

/** What the active can vouch for right now, or null (not certainly active). */
export interface Grantable {
  generation: string;
  /** How long the active's hold on the lock stays certain, on its monotonic clock. */
  certainForMs: number;
}

/** One standby's lease channel, as the active's transport sees it. */
export interface LeaseChannelEnd {
  /** A message from the standby (hostile input all the same: malformed ones are dropped). */
  receive(message: string): void;
  /** The channel is gone. The standby may not know yet, so its lease runs on until it expires. */
  closed(): void;
}

export class ReadLeaseGrants {
  readonly #leases = new Set<GrantedReadLease>();

  constructor(
    private readonly grantable: () => Grantable | null,
    private readonly now: () => number = monotonicClock.now,
  ) {}

  /** A standby opened a lease channel; `send` reaches it with one line. */
  open(send: (line: string) => void): LeaseChannelEnd {
    const lease = new GrantedReadLease((message) => send(formatMessage(message)), this.now);
    this.#leases.add(lease);
    return {
      receive: (text) => {
        const message = parseStandbyMessage(text);
        if (message?.type === "lease") this.#grant(lease);
        else if (message?.type === "ack") lease.acknowledged(message.seq);
        else if (message?.type === "release") lease.end();
      },
      closed: () => lease.disconnect(() => this.#leases.delete(lease)),
    };
  }

  /** After each write, before it is acknowledged: every standby holding a lease has heard of `generation`. */
  written(generation: string): Promise<void> {
    return this.#tellAll((seq) => ({ type: "written", seq, generation }));
  }

  /** Before the lock is released: no standby still reads under a lease of ours. */
  revokeAll(): Promise<void> {
    return this.#tellAll((seq) => ({ type: "revoked", seq }));
  }

  async #tellAll(message: (seq: number) => ActiveMessage): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const lease of this.#leases) {
      const told = lease.tell(message);
      if (told) waits.push(told);
    }
    if (waits.length > 0) await Promise.all(waits);
  }

  #grant(lease: GrantedReadLease): void {
    const grantable = this.grantable();
    const ms = grantable ? Math.floor(Math.min(MAX_READ_LEASE_MS, grantable.certainForMs)) : 0;
    if (!grantable || ms < MIN_READ_LEASE_MS) {
      lease.send({ type: "refused" });
      return;
    }
    lease.extend(ms);
    lease.send({ type: "granted", ms, generation: grantable.generation });
  }
}

/** One standby's lease: until when it may run (active's clock) and what it has acknowledged. */
class GrantedReadLease {
  #expiresAt = 0;
  #sent = 0;
  #acknowledged = 0;
  #connected = true;
  #waiting: Array<{ seq: number; done(): void }> = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Set once the channel is gone: drops this lease from the active's set when it runs out. */
  #forget: (() => void) | null = null;

  constructor(
    readonly send: (message: ActiveMessage) => void,
    private readonly now: () => number,
  ) {}

  extend(ms: number): void {
    this.#expiresAt = Math.max(this.#expiresAt, this.now() + ms);
  }

  /** Sends `message` if the lease may be running; resolves once acknowledged or run out. */
  tell(message: (seq: number) => ActiveMessage): Promise<void> | null {
    if (this.now() >= this.#expiresAt) return null;
    const seq = ++this.#sent;
    if (this.#connected) this.send(message(seq));
    return new Promise((done) => {
      this.#waiting.push({ seq, done });
      this.#watchExpiry();
    });
  }

  acknowledged(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= this.#acknowledged || seq > this.#sent) return;
    this.#acknowledged = seq;
    this.#waiting = this.#waiting.filter((waiter) => {
      if (waiter.seq > seq) return true;
      waiter.done();
      return false;
    });
  }

  /** The standby gave the lease up (it stopped reading under it before saying so). */
  end(): void {
    this.#expiresAt = 0;
    this.#expire();
  }

  disconnect(forget: () => void): void {
    this.#connected = false;
    if (this.now() >= this.#expiresAt) {
      this.#expire();
      forget();
      return;
    }
    this.#forget = forget;
    this.#watchExpiry();
  }

  /** One timer at a time, set for the lease's end; it follows renewals when it fires, so writes never reset it. */
  #watchExpiry(): void {
    if (this.#timer !== undefined) return;
    const left = this.#expiresAt - this.now();
    if (left <= 0) return this.#expire();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A renewal may have moved the end since the timer was set.
      if (this.now() < this.#expiresAt) this.#watchExpiry();
      else this.#expire();
    }, Math.ceil(left));
  }

  #expire(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#waiting.splice(0)) waiter.done();
    this.#forget?.();
  }
}
