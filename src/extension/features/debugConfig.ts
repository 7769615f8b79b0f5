// Launch configurations of the `mmutrace` debug type (debugger.md).

export const DEBUG_TYPE = 'mmutrace';
export const LANGUAGE_ID = 'mmutrace';

export interface LaunchConfig {
  type: string;
  request: string;
  name: string;
  /** Path (or URI, in a virtual workspace) of the .mmutrace file. */
  program?: string;
  policy?: string;
  stopOnEntry?: boolean;
  audit?: boolean;
  logExits?: boolean;
  [key: string]: unknown;
}

/** What `launch.json` gets when it is created for this debug type. */
export const INITIAL_CONFIGURATION: LaunchConfig = {
  type: DEBUG_TYPE,
  request: 'launch',
  name: 'Debug trace',
  program: '${file}',
  stopOnEntry: true,
};

/** The launch configuration for one file: F5 with no launch.json, the Debug lens and the title button. */
export function launchFor(program: string, name: string, extra: Partial<LaunchConfig> = {}): LaunchConfig {
  return { type: DEBUG_TYPE, request: 'launch', name: `Debug ${name}`, program, stopOnEntry: true, ...extra };
}

export interface ActiveFile {
  /** What `program` should say: a file system path, or the URI of a file in a virtual workspace. */
  program: string;
  name: string;
  languageId: string;
}

/**
 * resolveDebugConfiguration: an empty configuration (F5 with no launch.json)
 * debugs the active .mmutrace file; a configuration without `program` takes
 * it too. Returns the configuration, or an error to show (and no session).
 */
export function resolveLaunch(config: Partial<LaunchConfig>, active: ActiveFile | undefined): { config: LaunchConfig } | { error: string } {
  const isMmutrace = active?.languageId === LANGUAGE_ID;
  if (!config.type && !config.request && !config.name) {
    if (!active || !isMmutrace) return { error: 'Open a .mmutrace file to debug it, or add an `mmutrace` configuration to launch.json.' };
    return { config: launchFor(active.program, active.name) };
  }
  const out: LaunchConfig = { type: config.type ?? DEBUG_TYPE, request: config.request ?? 'launch', name: config.name ?? 'Debug trace', ...config } as LaunchConfig;
  if (!out.program) {
    if (!active || !isMmutrace) return { error: 'The launch configuration has no `program`, and no .mmutrace file is open.' };
    out.program = active.program;
  }
  if (out.policy !== undefined && typeof out.policy !== 'string') return { error: '`policy` must be a string (`zap`, `update`, `access` or `tdp`).' };
  return { config: out };
}
