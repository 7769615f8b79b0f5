// Node globals for the browser bundle, injected by esbuild where the bundled
// code reads them: `process` (what @vscode/debugadapter and the session touch
// outside the stdio runner), `setImmediate` (the session and the runtime
// schedule their work with it), and the part of `Buffer` that the session's
// readMemory uses.

export const process = {
  platform: 'browser',
  env: {} as Record<string, string | undefined>,
  argv: [] as string[],
  versions: {} as Record<string, string>,
  cwd: (): string => '/',
  nextTick: (fn: (...args: unknown[]) => void, ...args: unknown[]): void => queueMicrotask(() => fn(...args)),
  /** A session never ends the extension host. */
  exit: (): void => {},
};

// setImmediate: a macrotask through a MessageChannel (setTimeout(0) is clamped
// to 4 ms once nested, which would slow the runtime's time slices).
interface Port {
  onmessage: ((e: { data: number }) => void) | null;
  postMessage(id: number): void;
  unref?: () => void;
}
const pending = new Map<number, () => void>();
let nextId = 1;
let channel: { port1: Port; port2: Port } | undefined;

function post(id: number): void {
  if (typeof MessageChannel === 'undefined') {
    setTimeout(() => run(id), 0);
    return;
  }
  if (!channel) {
    channel = new MessageChannel() as unknown as { port1: Port; port2: Port };
    channel.port1.onmessage = (e) => run(e.data);
    channel.port1.unref?.();
  }
  channel.port2.postMessage(id);
}

function run(id: number): void {
  const fn = pending.get(id);
  if (!fn) return;
  pending.delete(id);
  fn();
}

export function setImmediate(fn: (...args: unknown[]) => void, ...args: unknown[]): number {
  const id = nextId++;
  pending.set(id, () => fn(...args));
  post(id);
  return id;
}

export function clearImmediate(id: number | undefined): void {
  if (id !== undefined) pending.delete(id);
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Bytes with Node's `toString('base64' | 'hex' | 'utf8')`. */
export class Buffer {
  private constructor(readonly bytes: Uint8Array) {}

  get length(): number {
    return this.bytes.length;
  }

  static from(data: ArrayLike<number> | ArrayBuffer | string, encoding?: string): Buffer {
    if (typeof data === 'string') {
      if (encoding !== 'base64') return new Buffer(new TextEncoder().encode(data));
      const s = data.replace(/[^A-Za-z0-9+/]/g, '');
      const out = new Uint8Array(Math.floor((s.length * 3) / 4));
      let bits = 0;
      let acc = 0;
      let o = 0;
      for (const c of s) {
        acc = ((acc << 6) | BASE64.indexOf(c)) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          out[o++] = (acc >> bits) & 0xff;
        }
      }
      return new Buffer(out);
    }
    return new Buffer(data instanceof ArrayBuffer ? new Uint8Array(data.slice(0)) : Uint8Array.from(data));
  }

  static alloc(n: number): Buffer {
    return new Buffer(new Uint8Array(n));
  }

  static byteLength(s: string): number {
    return new TextEncoder().encode(s).length;
  }

  toString(encoding = 'utf8'): string {
    const b = this.bytes;
    if (encoding === 'base64') {
      let s = '';
      for (let i = 0; i < b.length; i += 3) {
        const n = (b[i]! << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
        s += BASE64[(n >> 18) & 63]! + BASE64[(n >> 12) & 63]!;
        s += i + 1 < b.length ? BASE64[(n >> 6) & 63]! : '=';
        s += i + 2 < b.length ? BASE64[n & 63]! : '=';
      }
      return s;
    }
    if (encoding === 'hex') return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return new TextDecoder().decode(b);
  }
}
