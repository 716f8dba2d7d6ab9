/**
 * The messages of a read-lease channel (read-lease.ts), one text line each. The transport carries
 * lines; both sides parse what they receive as hostile input and drop what does not parse.
 */

/** Standby → active. */
export type StandbyMessage = { type: "lease" } | { type: "ack"; seq: number } | { type: "release" };

/** Active → standby. */
export type ActiveMessage =
  | { type: "granted"; ms: number; generation: string }
  | { type: "refused" }
  | { type: "written"; seq: number; generation: string }
  | { type: "revoked"; seq: number };

/** Longer lines are not ours: a generation is three short fields. */
const MAX_LINE_LENGTH = 200;

/**
 * For transports: feeds text as it arrives, calls `line` for each whole line (without its "\n");
 * returns false once the unfinished line is too long (the channel should be dropped).
 */
export function splitLines(line: (text: string) => void): (chunk: string) => boolean {
  let pending = "";
  return (chunk) => {
    pending += chunk;
    for (let end = pending.indexOf("\n"); end !== -1; end = pending.indexOf("\n")) {
      const text = pending.slice(0, end);
      pending = pending.slice(end + 1);
      line(text);
    }
    return pending.length <= MAX_LINE_LENGTH;
  };
}

export function formatMessage(message: StandbyMessage | ActiveMessage): string {
  switch (message.type) {
    case "lease":
    case "release":
    case "refused":
      return message.type;
    case "ack":
    case "revoked":
      return `${message.type} ${message.seq}`;
    case "granted":
      return `granted ${message.ms} ${message.generation}`;
    case "written":
      return `written ${message.seq} ${message.generation}`;
  }
}

export function parseStandbyMessage(line: string): StandbyMessage | null {
  if (line === "lease" || line === "release") return { type: line };
  const seq = numberAfter(line, "ack ");
  return seq === null ? null : { type: "ack", seq };
}

export function parseActiveMessage(line: string): ActiveMessage | null {
  if (line === "refused") return { type: "refused" };
  const revoked = numberAfter(line, "revoked ");
  if (revoked !== null) return { type: "revoked", seq: revoked };
  const [type, count, generation, extra] = line.split(" ");
  const value = Number(count);
  if (extra !== undefined || !generation || !GENERATION.test(generation) || !/^\d{1,15}$/.test(count ?? "")) return null;
  if (type === "granted") return { type, ms: value, generation };
  if (type === "written") return { type, seq: value, generation };
  return null;
}

const GENERATION = /^[0-9a-z/]{1,100}$/;

function numberAfter(line: string, prefix: string): number | null {
  if (!line.startsWith(prefix)) return null;
  const digits = line.slice(prefix.length);
  return /^\d{1,15}$/.test(digits) ? Number(digits) : null;
}
