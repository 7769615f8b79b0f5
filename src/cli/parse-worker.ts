// The command's parse worker (a worker thread; bundled to dist/parse-worker.js
// by build.mjs): reads the trace (a file, stdin, or a `.gz` file through a
// zlib stream), parses it with the streaming parser and posts the setup, then
// each batch of rows as transferred typed-array columns, then the end. It
// runs ahead of the replay by at most MAX_AHEAD batches: `ctl[0]` counts the
// messages posted (the replay waits on it), `ctl[1]` those the replay has
// taken (this thread waits on it), `ctl[2]` is ticked at every chunk and
// every wait so that the replay can tell this thread is alive. The protocol
// is in worker-protocol.ts.

import { closeSync, createReadStream } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { createGunzip } from 'node:zlib';
import { TraceReadError, fdChunksSync, openTraceSync } from '../io/read';
import { TraceStream } from '../trace/stream';
import { runaway } from './feed';
import { CTL_ALIVE, MAX_AHEAD, type ToReplay, type WorkerInput } from './worker-protocol';

const input = workerData as WorkerInput;
const port = input.port;
const ctl = new Int32Array(input.ctl);

function post(m: ToReplay, transfer: ArrayBuffer[] = []): void {
  // Waits while the replay is MAX_AHEAD messages behind: memory stays bounded.
  for (;;) {
    const posted = Atomics.load(ctl, 0);
    const taken = Atomics.load(ctl, 1);
    if (posted - taken < MAX_AHEAD) break;
    Atomics.add(ctl, CTL_ALIVE, 1);
    Atomics.wait(ctl, 1, taken, 1000);
  }
  port.postMessage(m, transfer);
  Atomics.add(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

const s = new TraceStream();
let setupSent = false;

/**
 * For the tests only (test/cli/stream.test.ts): MMUTRACE_TEST_WORKER_EXIT_AFTER=N
 * ends this thread silently at its Nth chunk, as an out-of-memory death would
 * (no message posted), to show that the replay does not wait forever.
 */
const exitAfter = Number(process.env.MMUTRACE_TEST_WORKER_EXIT_AFTER ?? 0);
let chunks = 0;
function maybeDieForTest(): void {
  if (exitAfter > 0 && ++chunks >= exitAfter) process.exit(0);
}

/** Posts what the last chunk completed; false when reading must stop (runaway input). */
function pump(): boolean {
  Atomics.add(ctl, CTL_ALIVE, 1);
  maybeDieForTest();
  const b = s.take();
  if (!setupSent && s.setupReady) {
    setupSent = true;
    const { events: _e, labels: _l, expects: _x, ...setup } = s.setup;
    post({ t: 'setup', setup, hasErrors: s.hasErrors });
  }
  const diagnostics = s.takeDiagnostics();
  const errorLine = s.errorLine || (s.badUtf8 ? s.badUtf8.line : 0);
  if (b) {
    const cols = b.events.toColumns();
    const transfer = [cols.op, cols.lineBase, cols.lineOff, cols.aLo, cols.aHi, cols.attr, cols.valBits, cols.valRank, cols.vals].map((a) => a.buffer as ArrayBuffer);
    post({ t: 'batch', cols, firstRow: b.firstRow, labels: [...b.labels], expects: b.expects.slice(), errorLine, hasErrors: s.hasErrors, diagnostics }, transfer);
  } else if (diagnostics.length || s.hasErrors) post({ t: 'diagnostics', diagnostics, hasErrors: s.hasErrors });
  return runaway(s) === undefined;
}

function end(stopped: boolean): void {
  if (!stopped) {
    s.end();
    pump();
  }
  const stopLine = stopped ? runaway(s) : undefined;
  const r = s.finish();
  post({ t: 'end', diagnostics: r.diagnostics, badUtf8: r.badUtf8, hasErrors: r.hasErrors || stopLine !== undefined, stopLine });
}

async function main(): Promise<void> {
  const file = input.file;
  if (file.endsWith('.gz') && file !== '-') {
    const { fd } = openTraceSync(file, { maxBytes: Infinity });
    const gunzip = createGunzip({ chunkSize: 1 << 20 });
    const source = createReadStream('', { fd, highWaterMark: 1 << 16 });
    source.pipe(gunzip);
    source.on('error', (e) => gunzip.destroy(e));
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) {
        s.push(chunk);
        if (!pump()) {
          source.destroy();
          return end(true);
        }
      }
    } catch (e) {
      throw new TraceReadError((e as Error).message);
    }
    return end(false);
  }
  let fd = 0;
  let fifo = false;
  if (file !== '-') ({ fd, fifo } = openTraceSync(file, { allowPipes: true, maxBytes: Infinity }));
  try {
    for (const chunk of fdChunksSync(fd, fifo, Infinity, true)) {
      s.push(chunk);
      if (!pump()) return end(true);
    }
  } finally {
    if (fd !== 0) closeSync(fd);
  }
  end(false);
}

main().catch((e: unknown) => {
  if (e instanceof TraceReadError) post({ t: 'readError', message: e.message });
  else post({ t: 'crash', message: e instanceof Error ? e.message : String(e) });
});
