/**
 * Read leases, the standby's side (standby reads; the active's side is read-lease-grants.ts).
 *
 * A standby keeps what it read from storage while the active's write generation
 * (standby-generation.ts) stays the same. It learns the generation from a lease: the active
 * grants one over a channel of the standby's, and while it runs the active tells the standby of
 * every write before acknowledging it, and waits for the standby's acknowledgement (or for the
 * lease to run out on the active's clock). So a standby read needs nothing from the active.
 *
 * Why no answer is stale, i.e. older than a write acknowledged before the read began:
 * - while our lease runs, every write is acknowledged only after we heard of it, and we change
 *   the generation (so later reads start from storage again) before acknowledging;
 * - we time the lease from when we *asked* for it, and cut it by a tenth for clock rate, so ours
 *   ends before the active's view of it ends: it never waits less than we trust;
 * - the active grants a lease only while its hold on the lock is certain and no longer than that,
 *   so it ends before any other node could take the lock and write; before *releasing* the lock
 *   the active revokes every lease and waits as for a write;
 * - when the channel closes, a grant is refused or an answer is late, we hold no lease: reads then
 *   load everything from storage for themselves (strongly consistent reads), as without a cache.
 */
import { monotonicClock } from "../physical/ha.js";
import { formatMessage, parseActiveMessage, type StandbyMessage } from "./read-lease-protocol.js";

/** A lease channel to the active, as the standby's transport provides it. */
export interface LeaseChannel {
  send(line: string): void;
  /** Ends the channel once what was sent has gone out. */
  close(): void;
}

/**
 * Opens a channel to the current active; `receive` gets each line it sends (split by
 * `splitLines`), `closed` is called once when it is gone.
 */
export type OpenLeaseChannel = (receive: (line: string) => void, closed: () => void) => Promise<LeaseChannel>;

/** The longest a read waits for a lease before reading storage afresh. */
const LEASE_WAIT_MS = 500;
/** After a failed ask (no channel, a frozen active), reads go to storage afresh this long before asking again. */
const RETRY_AFTER_FAILURE_MS = 1_000;
/** Part of each granted lease we trust: the rest covers clock rates that differ between hosts. */
const TRUSTED_SHARE = 0.9;

/** A question for a lease that has not been answered yet. */
interface Asking {
  /** When it left (or is about to): the lease is timed from here. */
  sentAt: number;
  answered: Promise<void>;
  settle(error?: Error): void;
}

export class ReadLease {
  #channel: LeaseChannel | null = null;
  #generation: string | null = null;
  /** Until when (our monotonic clock) the lease runs; renewed in the background from half-time on. */
  #validUntil = 0;
  #renewFrom = 0;
  #asking: Asking | null = null;
  #unreachableUntil = 0;

  constructor(
    private readonly open: OpenLeaseChannel,
    private readonly now: () => number = monotonicClock.now,
  ) {}

  /** The active's write generation while our lease runs; null when we hold none. */
  async generation(): Promise<string | null> {
    const now = this.now();
    if (now < this.#validUntil) {
      // In the background: `answered` carries its own rejection handler.
      if (now >= this.#renewFrom) void this.#ask();
      return this.#generation;
    }
    if (now < this.#unreachableUntil) return null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([this.#ask(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("no read lease in time")), LEASE_WAIT_MS)))]);
    } catch {
      this.#unreachableUntil = this.now() + RETRY_AFTER_FAILURE_MS;
      // A late answer on this channel would be trusted from when we asked: start over on a new one.
      this.#dropChannel();
      return null;
    } finally {
      clearTimeout(timer);
    }
    return this.now() < this.#validUntil ? this.#generation : null;
  }

  /** Stops reading under the lease and tells the active so (sealing, stopping, becoming active). */
  release(): void {
    this.#dropChannel();
  }

  #ask(): Promise<void> {
    if (this.#asking) return this.#asking.answered;
    let settle!: (error?: Error) => void;
    const answered = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
    answered.catch(() => {});
    const asking: Asking = { sentAt: this.now(), answered, settle };
    this.#asking = asking;
    void (async () => {
      try {
        if (!this.#channel) {
          const channel = await this.#connect();
          // Released while connecting: nobody wants this channel.
          if (this.#asking !== asking) return channel.close();
          this.#channel = channel;
        }
        // Timed from before the question leaves: the active's grant starts later than this.
        asking.sentAt = this.now();
        this.#channel.send(formatMessage({ type: "lease" }));
      } catch (error) {
        this.#settle(asking, error as Error);
      }
    })();
    return answered;
  }

  async #connect(): Promise<LeaseChannel> {
    const channel: LeaseChannel = await this.open(
      (line) => {
        if (this.#channel === channel) this.#receive(channel, line);
      },
      () => {
        if (this.#channel === channel) this.#dropChannel(false);
      },
    );
    return channel;
  }

  #receive(channel: LeaseChannel, line: string): void {
    const message = parseActiveMessage(line);
    if (!message) return this.#dropChannel();
    const reply = (answer: StandbyMessage) => channel.send(formatMessage(answer));
    switch (message.type) {
      case "granted": {
        const asking = this.#asking;
        if (!asking) return this.#dropChannel();
        const trusted = message.ms * TRUSTED_SHARE;
        this.#generation = message.generation;
        this.#validUntil = Math.max(this.#validUntil, asking.sentAt + trusted);
        this.#renewFrom = asking.sentAt + trusted / 2;
        return this.#settle(asking);
      }
      case "refused":
        // Not (certainly) the active any more: the next ask looks for the active again.
        return this.#dropChannel();
      case "written":
        // Before the acknowledgement, so no read after the write's acknowledgement sees the old view.
        this.#generation = message.generation;
        return reply({ type: "ack", seq: message.seq });
      case "revoked":
        this.#validUntil = 0;
        this.#generation = null;
        return reply({ type: "ack", seq: message.seq });
    }
  }

  /** No lease from now on; the active hears so unless the channel is already gone. */
  #dropChannel(tellActive = true): void {
    this.#validUntil = 0;
    this.#generation = null;
    const channel = this.#channel;
    this.#channel = null;
    if (channel && tellActive) {
      channel.send(formatMessage({ type: "release" }));
      channel.close();
    }
    if (this.#asking) this.#settle(this.#asking, new Error("the read lease channel closed"));
  }

  #settle(asking: Asking, error?: Error): void {
    if (this.#asking === asking) this.#asking = null;
    asking.settle(error);
  }
}
