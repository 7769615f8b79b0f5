// Types of env.mjs, for the unit test of the harness (test/e2e/harness.test.ts).
export function fromOuterNpm(name: string): boolean;
export function innerEnv(opts?: { nodeBin?: string; base?: NodeJS.ProcessEnv; extra?: Record<string, string> }): Record<string, string>;
