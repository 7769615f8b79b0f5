// The `mmutrace` tasks (desktop only: they run a process): a TaskProvider
// that offers check / run / compare for the workspace and the open trace, and
// runs any `mmutrace` task of tasks.json with the extension's bundled CLI
// (dist/cli.js through args.ts's TASK_WRAPPER: the editor's own Node,
// ELECTRON_RUN_AS_NODE on the desktop). Their output goes through the `$mmutrace` problem matcher
// (package.json) into the Problems view.

import * as vscode from 'vscode';
import { TASK_TYPE, TASK_WRAPPER, taskArgs, taskName, type MmutraceTaskDefinition } from './args';

const MATCHER = '$mmutrace';

export function registerTasks(context: vscode.ExtensionContext): void {
  const cli = vscode.Uri.joinPath(context.extensionUri, 'dist', 'cli.js').fsPath;

  function make(def: MmutraceTaskDefinition, scope: vscode.WorkspaceFolder | vscode.TaskScope, name = taskName(def)): vscode.Task {
    const r = taskArgs(def);
    const cwd = typeof scope === 'object' ? scope.uri.fsPath : undefined;
    const exec =
      'error' in r
        ? // A definition that cannot run says why in the terminal, and fails (exit 2, as the CLI's usage errors).
          new vscode.ProcessExecution(process.execPath, ['-e', `process.stderr.write(${JSON.stringify(`mmutrace: ${r.error}\n`)}); process.exitCode = 2`], {
            env: { ELECTRON_RUN_AS_NODE: '1' },
            ...(cwd ? { cwd } : {}),
          })
        : new vscode.ProcessExecution(process.execPath, ['-e', TASK_WRAPPER, cli, ...r.args], { env: { ELECTRON_RUN_AS_NODE: '1' }, ...(cwd ? { cwd } : {}) });
    const task = new vscode.Task(def, scope, name, 'mmutrace', exec, def.command === 'record' ? [] : [MATCHER]);
    if (def.command === 'check') task.group = vscode.TaskGroup.Test;
    task.presentationOptions = { reveal: vscode.TaskRevealKind.Always, clear: true };
    return task;
  }

  context.subscriptions.push(
    vscode.tasks.registerTaskProvider(TASK_TYPE, {
      async provideTasks() {
        const tasks: vscode.Task[] = [];
        for (const folder of vscode.workspace.workspaceFolders ?? []) {
          const files = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '**/*.mmutrace'), '**/node_modules/**', 1000);
          if (files.length === 0) continue;
          const rel = files.map((u) => vscode.workspace.asRelativePath(u, false)).sort();
          tasks.push(make({ type: TASK_TYPE, command: 'check', files: rel, policy: 'all' }, folder, 'check every trace (all policies)'));
          tasks.push(make({ type: TASK_TYPE, command: 'check', file: '${file}', policy: 'all' }, folder, 'check the current trace (all policies)'));
          tasks.push(make({ type: TASK_TYPE, command: 'run', file: '${file}' }, folder, 'run the current trace'));
          tasks.push(make({ type: TASK_TYPE, command: 'compare', file: '${file}' }, folder, 'compare the policies on the current trace'));
        }
        return tasks;
      },
      resolveTask(task) {
        const def = task.definition as MmutraceTaskDefinition;
        if (def.type !== TASK_TYPE) return undefined;
        // A tasks.json entry: the same definition, given the execution.
        return make(def, task.scope ?? vscode.TaskScope.Workspace, task.name);
      },
    }),
  );
}
