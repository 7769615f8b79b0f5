// A trace file on disk as the debugger's TraceSource (Node only: the session
// imports this module dynamically, so the web build never loads node:fs).

import { badUtf8Message, readTrace } from '../io/read';
import { LaunchError } from './runtime-types';
import { TextSource, type TraceSource } from './source';

/** Opens `path` for the debugger; throws TraceReadError (cannot read) or LaunchError (not UTF-8). */
export async function openFileSource(path: string): Promise<TraceSource> {
  // The shared bounded reader (src/io/read.ts): refuses devices, FIFOs and
  // files over the cap before reading, counts bytes as it reads.
  const r = await readTrace(path);
  if (r.badUtf8) throw new LaunchError(`${path}:${r.badUtf8.line}:${r.badUtf8.col}: error: ${badUtf8Message(r.badUtf8)}`);
  return new TextSource(r.text);
}
