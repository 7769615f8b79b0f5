// Reading a trace for the command with the parse in a worker thread
// (parse-worker.ts) running ahead of the replay, which stays in this thread:
// the command is synchronous, so messages are taken with
// receiveMessageOnPort and waited for with Atomics.wait on a shared counter.
// Used for `.gz` files, and with a core to spare (two or more, and a load
// average below the cores less one) for large files, pipes and stdin;
// feed.ts's feedSync otherwise, and whenever the worker cannot start. Both give the same output (test/cli/stream.test.ts).

import { closeSync, existsSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { EventTable, type Diagnostic, type Program } from '../trace';
import { openTraceSync, fdChunksSync } from '../io/read';
import { TraceStream } from '../trace/stream';
import { feedSync, runaway, type FedFile } from './feed';
import type { StreamReplay } from './replay';
import { CTL_ALIVE, CTL_SLOTS, WORKER_SILENT_MS, type ToReplay, type WorkerInput } from './worker-protocol';

/** Regular files smaller than this are parsed in this thread (starting a worker costs more than it saves). */
export const WORKER_MIN_BYTES = 4 << 20;

/** The worker's bundle (dist/parse-worker.js), beside this bundle or, from the sources (tests), in dist/. */
function workerPath(): string | undefined {
  return [join(__dirname, 'parse-worker.js'), join(__dirname, '..', '..', 'dist', 'parse-worker.js')].find((p) => existsSync(p));
}

/**
 * Whether to parse in a worker: MMUTRACE_PARSE_WORKER=never|always decides
 * (the tests run both paths); else with a core to spare, for a pipe, stdin,
 * a `.gz` file or a file of WORKER_MIN_BYTES or more.
 */
export function useWorker(file: string): boolean {
  const env = process.env.MMUTRACE_PARSE_WORKER;
  if (env === 'never') return false;
  if (workerPath() === undefined) return false;
  if (env === 'always') return true;
  // Only the worker streams gzip (node:zlib has no synchronous stream): always there.
  if (file !== '-' && file.endsWith('.gz')) return true;
  // A core to spare: two or more, and (where the system says) fewer runnable tasks than cores less
  // one. On a busy machine the worker only competes with the replay (measured: README, bench).
  const cores = availableParallelism();
  if (cores < 2 || cores - loadavg()[0]! < 1) return false;
  if (file === '-') return true;
  try {
    const st = statSync(file);
    return !st.isFile() || st.size >= WORKER_MIN_BYTES;
  } catch {
    return false;
  }
}

function regularFile(file: string): boolean {
  if (file === '-' || file.endsWith('.gz')) return false;
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The parse worker said nothing and ticked nothing for the silence limit. */
class WorkerSilent extends Error {}

/** WORKER_SILENT_MS, or MMUTRACE_WORKER_SILENT_MS (a whole number of ms, for the tests). */
function silentLimit(): number {
  const v = process.env.MMUTRACE_WORKER_SILENT_MS;
  return v !== undefined && /^\d{1,7}$/.test(v) && Number(v) > 0 ? Number(v) : WORKER_SILENT_MS;
}

/** Parses and replays the start of the file in this thread until the worker has posted its first message. */
function headStart(file: string, replay: StreamReplay, ctl: Int32Array): void {
  let fd: number;
  try {
    fd = openTraceSync(file, { maxBytes: Infinity }).fd;
  } catch {
    return; // the worker says why
  }
  const s = new TraceStream();
  try {
    for (const chunk of fdChunksSync(fd, false, Infinity, true)) {
      s.push(chunk);
      const b = s.take();
      if (s.setupReady) replay.begin(s.setup, s.hasErrors);
      if (b) replay.batch(b, s.errorLine || (s.badUtf8 ? s.badUtf8.line : 0));
      if (s.hasErrors || Atomics.load(ctl, 0) > 0 || runaway(s)) return;
    }
  } catch {
    // a read error: the worker meets it too and says it
  } finally {
    closeSync(fd);
  }
}

/** Reads, parses (in the worker) and replays (here) a file; null when the worker could not be started. */
export function feedWorker(file: string, replay: StreamReplay): FedFile | null {
  const path = workerPath();
  if (!path) return null;
  const { port1, port2 } = new MessageChannel();
  const ctlBuf = new SharedArrayBuffer(4 * CTL_SLOTS);
  const ctl = new Int32Array(ctlBuf);
  let worker: Worker;
  try {
    const data: WorkerInput = { file, port: port2, ctl: ctlBuf };
    worker = new Worker(path, { workerData: data, transferList: [port2] });
  } catch {
    return null;
  }
  // A worker that reads a file (not a pipe, whose writer may take any time) ticks
  // ctl[CTL_ALIVE] at every chunk; silent past silentMs, it is taken for dead (a
  // thread that dies of an out-of-memory posts nothing, and this thread, waiting
  // synchronously, never sees its exit event).
  const watched = file !== '-' && (file.endsWith('.gz') || regularFile(file));
  const silentMs = silentLimit();
  let alive = Atomics.load(ctl, CTL_ALIVE);
  let heardAt = Date.now();
  const next = (): ToReplay => {
    for (;;) {
      const posted = Atomics.load(ctl, 0);
      const m = receiveMessageOnPort(port1);
      if (m) {
        Atomics.add(ctl, 1, 1);
        Atomics.notify(ctl, 1);
        heardAt = Date.now();
        return m.message as ToReplay;
      }
      const tick = Atomics.load(ctl, CTL_ALIVE);
      if (tick !== alive) {
        alive = tick;
        heardAt = Date.now();
      } else if (watched && Date.now() - heardAt > silentMs) throw new WorkerSilent();
      Atomics.wait(ctl, 0, posted, Math.min(1000, silentMs));
    }
  };
  // While the worker starts (a new isolate, its code cold: about 300 ms here), this thread
  // parses and replays the start of a regular file itself, until the worker's first message;
  // the worker's rows before where it got are then skipped (the same rows, the same numbers).
  if (regularFile(file)) headStart(file, replay, ctl);
  const diagnostics: Diagnostic[] = [];
  let program: Program | undefined;
  try {
    for (;;) {
      const m = next();
      switch (m.t) {
        case 'setup':
          program = { ...m.setup, events: new EventTable(1), labels: new Map(), expects: [] };
          replay.begin(program, m.hasErrors);
          break;
        case 'batch':
          diagnostics.push(...m.diagnostics);
          replay.batch({ events: EventTable.fromColumns(m.cols), firstRow: m.firstRow, labels: new Map(m.labels), expects: m.expects }, m.errorLine);
          if (m.hasErrors && m.errorLine === 0) replay.stop();
          break;
        case 'diagnostics':
          diagnostics.push(...m.diagnostics);
          if (m.hasErrors) replay.stop();
          break;
        case 'end': {
          diagnostics.push(...(m.stopLine ? m.diagnostics.filter((d) => !/more diagnostics? not shown$/.test(d.message)) : m.diagnostics));
          if (m.stopLine) diagnostics.push(m.stopLine);
          const out: FedFile = { diagnostics, hasErrors: m.hasErrors };
          if (m.badUtf8) out.badUtf8 = m.badUtf8;
          return out;
        }
        case 'readError':
          return { readError: m.message, diagnostics: [], hasErrors: true };
        case 'crash':
          throw new Error(`the parse worker failed: ${m.message}`);
      }
    }
  } catch (e) {
    if (!(e instanceof WorkerSilent)) throw e;
    // A file can be read again: this thread parses it from the start and the replay
    // skips the rows it has run (as after the head start). A .gz cannot here.
    if (regularFile(file)) return feedSync(file, replay);
    const waited = silentMs >= 1000 ? `${Math.round(silentMs / 1000)} s` : `${silentMs} ms`;
    return { readError: `the parse worker stopped without a word (nothing for ${waited})`, diagnostics: [], hasErrors: true };
  } finally {
    port1.close();
    void worker.terminate();
  }
}
