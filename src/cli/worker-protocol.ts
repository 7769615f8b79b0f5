// The messages between the command's replay (feed-worker.ts, this process's
// main thread) and its parse worker (parse-worker.ts): the setup once, then
// batches of rows as typed-array columns, then the end with the diagnostics.

import type { MessagePort } from 'node:worker_threads';
import type { Diagnostic, EventColumns, ExpectStmt, Program } from '../trace';
import type { StreamBadByte } from '../trace/stream';

/** Messages the worker may post before the replay has taken them (each about one 1 MiB chunk of the file). */
export const MAX_AHEAD = 8;

export interface WorkerInput {
  /** The file as given (`-`: stdin). */
  file: string;
  port: MessagePort;
  /** Int32 [posted, taken]. */
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
