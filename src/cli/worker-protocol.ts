// The messages between the command's replay (feed-worker.ts, this process's
// main thread) and its parse worker (parse-worker.ts): the setup once, then
// batches of rows as typed-array columns, then the end with the diagnostics.

import type { MessagePort } from 'node:worker_threads';
import type { Diagnostic, EventColumns, ExpectStmt, Program } from '../trace';
import type { StreamBadByte } from '../trace/stream';

/** Messages the worker may post before the replay has taken them (each about one 1 MiB chunk of the file). */
export const MAX_AHEAD = 8;

/**
 * How long the replay waits with no message and no tick before it takes the
 * worker for dead (ms): a worker reads a file (never a pipe), so a second
 * without a tick already means a machine starved of CPU; 30 s is far past
 * that. MMUTRACE_WORKER_SILENT_MS sets another figure (the tests).
 */
export const WORKER_SILENT_MS = 30_000;

/** Int32 slots of the shared control array. */
export const CTL_POSTED = 0;
export const CTL_TAKEN = 1;
export const CTL_ALIVE = 2;
export const CTL_SLOTS = 3;

export interface WorkerInput {
  /** The file as given (`-`: stdin). */
  file: string;
  port: MessagePort;
  /**
   * Int32 [posted, taken, alive]: `alive` is ticked by the worker at every
   * chunk it parses and while it waits for the replay, so that the replay,
   * which waits synchronously and cannot see the thread's exit event, can
   * tell a worker that died (out of memory, say) from a slow one.
   */
  ctl: SharedArrayBuffer;
}

export type ToReplay =
  | { t: 'setup'; setup: Omit<Program, 'events' | 'labels' | 'expects'>; hasErrors: boolean }
  | {
      t: 'batch';
      cols: EventColumns;
      firstRow: number;
      labels: [string, number][];
      expects: ExpectStmt[];
      /** The first line with an error so far (0: none). */
      errorLine: number;
      hasErrors: boolean;
      diagnostics: Diagnostic[];
    }
  | { t: 'diagnostics'; diagnostics: Diagnostic[]; hasErrors: boolean }
  | { t: 'end'; diagnostics: Diagnostic[]; badUtf8: StreamBadByte | undefined; hasErrors: boolean; stopLine: Diagnostic | undefined }
  | { t: 'readError'; message: string }
  | { t: 'crash'; message: string };
