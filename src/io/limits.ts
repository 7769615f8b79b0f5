// The size cap of a trace file, apart from the Node reader (src/io/read.ts) so
// that the extension's web build can check it too without loading node:fs.

/**
 * The largest trace read (bytes). Decision: 500 MiB, below V8's longest
 * string (2^29 - 24 characters), so every file the reader accepts can be
 * decoded into one string and every larger one gets this project's message.
 */
export const MAX_TRACE_BYTES = 500 * 1024 * 1024;

/** "500 MiB", or a count of bytes. */
export function capText(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

/** The reason given for a file over the cap (after "cannot read FILE: "). */
export function tooLargeText(max = MAX_TRACE_BYTES): string {
  return `it is larger than ${capText(max)} (the limit of a trace file)`;
}
