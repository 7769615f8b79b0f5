// Streams a Lackey log (a pipe from Valgrind, a file, stdin) through the
// converter into a .mmutrace file (gzip-compressed when its name ends in
// `.gz`) or a stream, with back-pressure: nothing is held whole.

import { createWriteStream, rmSync } from 'node:fs';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Converter, type ConvertOptions, type ConvertStats } from './convert';

export interface PipelineHooks {
  /** Called once when --max-events is reached: stop the producer. */
  onStop?: () => void;
  /** Called about every 200 ms with the counts so far. */
  progress?: (s: ConvertStats, elapsedMs: number) => void;
}

class ConvertStream extends Transform {
  readonly converter: Converter;
  private stoppedOnce = false;
  stats: ConvertStats | null = null;

  constructor(
    opts: ConvertOptions,
    private readonly hooks: PipelineHooks,
  ) {
    super();
    // The converter passes its text on in pieces of 256 KB (a pipe delivers the log in small chunks; a write per chunk would cost a system call).
    this.converter = new Converter(opts, (chunk) => this.push(chunk));
    this.converter.start();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try {
      const more = this.converter.push(chunk);
      if (!more && !this.stoppedOnce) {
        this.stoppedOnce = true;
        this.hooks.onStop?.();
      }
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.stats = this.converter.finish();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }
}

/**
 * Converts `input` into `out` (a path, `.gz` compressed; or a stream left
 * open). On an error the partial file is removed and the error rethrown.
 */
export async function convertLog(input: Readable, out: string | Writable, opts: ConvertOptions, hooks: PipelineHooks = {}): Promise<ConvertStats> {
  const conv = new ConvertStream(opts, hooks);
  const t0 = Date.now();
  const timer = hooks.progress ? setInterval(() => hooks.progress!(conv.converter.stats(), Date.now() - t0), 200) : undefined;
  try {
    if (typeof out === 'string') {
      const file = createWriteStream(out);
      if (out.endsWith('.gz')) await pipeline(input, conv, createGzip(), file);
      else await pipeline(input, conv, file);
    } else {
      await pipeline(input, conv, out, { end: false });
    }
  } catch (e) {
    if (typeof out === 'string') rmSync(out, { force: true });
    throw e;
  } finally {
    if (timer) clearInterval(timer);
  }
  const stats = conv.stats ?? conv.converter.stats();
  hooks.progress?.(stats, Date.now() - t0);
  return stats;
}
