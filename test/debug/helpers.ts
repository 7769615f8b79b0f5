// Helpers of the debugger tests: a DebugClient on the built adapter over
// stdio, and shortcuts for the requests the tests repeat.
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');
export const ADAPTER = join(ROOT, 'dist/adapter.js');
export const DEMAND = join(ROOT, 'examples/demand-fault.mmutrace');
export const fixture = (name: string): string => join(__dirname, 'fixtures', name);

/** Writes a generated trace under the OS temp folder; returns its path. */
export function writeTemp(name: string, text: string): string {
  const dir = join(tmpdir(), 'mmutrace-debug-tests');
  mkdirSync(dir, { recursive: true });
  const p = join(dir, `${process.pid}-${name}`);
  writeFileSync(p, text);
  return p;
}

export interface Client extends DebugClient {
  outputs: DebugProtocol.OutputEvent['body'][];
  events: DebugProtocol.Event[];
}

export async function startClient(): Promise<Client> {
  const dc = new DebugClient('node', ADAPTER, 'mmutrace', {}, true) as Client;
  dc.defaultTimeout = 15_000;
  dc.outputs = [];
  dc.events = [];
  await dc.start();
  dc.on('output', (e: DebugProtocol.OutputEvent) => dc.outputs.push(e.body));
  for (const name of ['stopped', 'terminated', 'breakpoint', 'progressStart', 'progressUpdate', 'progressEnd', 'invalidated', 'initialized']) {
    dc.on(name, (e: DebugProtocol.Event) => dc.events.push(e));
  }
  return dc;
}

export const INIT_ARGS: DebugProtocol.InitializeRequestArguments = {
  adapterID: 'mmutrace',
  linesStartAt1: true,
  columnsStartAt1: true,
  pathFormat: 'path',
  supportsProgressReporting: true,
  supportsInvalidatedEvent: true,
  supportsVariablePaging: true,
  supportsMemoryReferences: true,
};

/** initialize, launch, configure (breakpoints), configurationDone; resolves with the first stop. */
export async function launch(
  dc: Client,
  args: Record<string, unknown>,
  configure?: (dc: Client) => Promise<unknown>,
): Promise<DebugProtocol.StoppedEvent['body']> {
  await dc.initializeRequest(INIT_ARGS);
  const initialized = dc.waitForEvent('initialized');
  await dc.launchRequest(args as DebugProtocol.LaunchRequestArguments);
  await initialized;
  const stopped = dc.waitForEvent('stopped');
  if (configure) await configure(dc);
  await dc.configurationDoneRequest();
  return vcpuStop((await stopped) as DebugProtocol.StoppedEvent);
}

/**
 * A stop's body with the vCPU prefix of its description checked against its
 * thread (thread id = vCPU + 1) and taken off, so tests compare the rest.
 */
export function vcpuStop(ev: DebugProtocol.StoppedEvent): DebugProtocol.StoppedEvent['body'] {
  const b = ev.body;
  const prefix = `vCPU ${(b.threadId ?? 1) - 1}: `;
  if (!b.description?.startsWith(prefix)) throw new Error(`stop description ${JSON.stringify(b.description)} does not start with ${JSON.stringify(prefix)}`);
  return { ...b, description: b.description.slice(prefix.length) };
}

/** Runs a motion request and waits for the stop it causes. */
export async function stopAfter(dc: Client, action: () => Promise<unknown>): Promise<DebugProtocol.StoppedEvent['body']> {
  const stopped = dc.waitForEvent('stopped');
  await action();
  return vcpuStop((await stopped) as DebugProtocol.StoppedEvent);
}

export const next = (dc: Client) => stopAfter(dc, () => dc.nextRequest({ threadId: 1 }));
export const stepBack = (dc: Client) => stopAfter(dc, () => dc.stepBackRequest({ threadId: 1 }));
export const stepIn = (dc: Client) => stopAfter(dc, () => dc.stepInRequest({ threadId: 1 }));
export const stepOut = (dc: Client) => stopAfter(dc, () => dc.stepOutRequest({ threadId: 1 }));
export const cont = (dc: Client) => stopAfter(dc, () => dc.continueRequest({ threadId: 1 }));
export const reverse = (dc: Client) => stopAfter(dc, () => dc.reverseContinueRequest({ threadId: 1 }));

export async function frames(dc: Client, threadId = 1): Promise<DebugProtocol.StackFrame[]> {
  return (await dc.stackTraceRequest({ threadId })).body.stackFrames;
}

export async function topLine(dc: Client, threadId = 1): Promise<number> {
  return (await frames(dc, threadId))[0]!.line;
}

/** The scopes of the top frame, by name prefix. */
export async function scopes(dc: Client, threadId = 1): Promise<DebugProtocol.Scope[]> {
  const f = (await frames(dc, threadId))[0]!;
  return (await dc.scopesRequest({ frameId: f.id })).body.scopes;
}

export async function vars(dc: Client, ref: number, extra: Partial<DebugProtocol.VariablesArguments> = {}): Promise<DebugProtocol.Variable[]> {
  return (await dc.variablesRequest({ variablesReference: ref, ...extra })).body.variables;
}

/** The variables of the top frame's scope whose name starts with `prefix`, by name. */
export async function scopeVars(dc: Client, prefix: string): Promise<Map<string, DebugProtocol.Variable>> {
  const s = (await scopes(dc)).find((x) => x.name.startsWith(prefix));
  if (!s) throw new Error(`no scope ${prefix}`);
  return new Map((await vars(dc, s.variablesReference)).map((v) => [v.name, v]));
}

export async function evaluate(dc: Client, expression: string, hex = true): Promise<string> {
  const f = (await frames(dc))[0]!;
  return (await dc.evaluateRequest({ expression, frameId: f.id, context: 'watch', format: { hex } })).body.result;
}

/** Sends a request and returns the response, success or not (never throws). */
export async function raw(dc: Client, command: string, args?: unknown): Promise<DebugProtocol.Response> {
  return new Promise((resolveP) => {
    // ProtocolClient.send rejects on failure with an Error; the raw response comes through the callback form.
    (dc as unknown as { send(c: string, a: unknown): Promise<DebugProtocol.Response> })
      .send(command, args)
      .then(resolveP, (e: Error) => resolveP({ success: false, message: e.message, command, request_seq: 0, seq: 0, type: 'response' }));
  });
}

/** The 1-based line of the first line of `file` that starts with `text`. */
export function lineOf(file: string, text: string): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lines = (require('node:fs') as typeof import('node:fs')).readFileSync(file, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.startsWith(text));
  if (i < 0) throw new Error(`no line starting with ${text} in ${file}`);
  return i + 1;
}
