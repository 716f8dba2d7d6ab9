import type { FileSinkOptions, SocketSinkOptions } from "./options.js";

/** Where a device's lines go. Runtime-agnostic: the adapter implements it (node:fs, node:net). */
export interface AuditSink {
  /** Writes one line (no trailing newline); rejects when the line was not written. */
  write(line: string): Promise<void>;
  /** Reopens the underlying file or connection (log rotation: SIGHUP). */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** The sinks a runtime can open; a type it lacks cannot be enabled there. */
export interface AuditSinkOpeners {
  file?(options: FileSinkOptions): AuditSink;
  socket?(options: SocketSinkOptions): AuditSink;
}
