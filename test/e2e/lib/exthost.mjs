// The extension-host suite: code-server started with the smoke-test driver
// accepts a `payload` in the URL that loads an extension from a folder
// (extensionDevelopmentPath) and runs a test module in its extension host
// (extensionTestsPath). The workbench reports the module's result through
// window.codeAutomationExit (the hook @vscode/test-web uses) and its console
// through window.codeAutomationLog.

import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { launchBrowser, watchErrorNotifications } from './workbench.mjs';
import { log } from './util.mjs';

export async function runExtensionHostSuite(chromium, { url, runDir, shots, workspace, extensionPath, suite, resultsFile, timeoutMs = 240000 }) {
  const { ctx, page } = await launchBrowser(chromium, join(runDir, 'chrome-exthost'));
  const consoleLog = join(runDir, 'browser-console-exthost.log');
  // No test of the suite may make VS Code show an error notification.
  const errorNotifications = [];
  await watchErrorNotifications(page, (text) => {
    errorNotifications.push(text);
    log(`  error notification (extension-host suite): ${text}`);
  });
  page.on('console', (m) => appendFileSync(consoleLog, `[${m.type()}] ${m.text()}\n`));
  let done;
  const exited = new Promise((r) => (done = r));
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const text = (args || []).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
    appendFileSync(consoleLog, `[exthost ${type}] ${text}\n`);
    if (text.includes('[ext-suite]')) console.log(`  ${text}`);
  });
  await page.exposeFunction('codeAutomationExit', (code) => done(code));
  // code-server's remote authority is literally "remote".
  const remote = (p) => `vscode-remote://remote${p}`;
  const payload = JSON.stringify([
    ['extensionDevelopmentPath', remote(extensionPath)],
    ['extensionTestsPath', remote(suite)],
  ]);
  const t0 = Date.now();
  log(`extension-host suite: ${suite}\n    extension from ${extensionPath}`);
  let code;
  try {
    await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(payload)}`);
    let timer;
    code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    await page.screenshot({ path: join(shots, 'exthost-suite.png') }).catch(() => {});
  } finally {
    await ctx.close().catch(() => {});
  }
  log(`extension-host suite exit code: ${code} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  let report = { passed: 0, failed: 0, results: [] };
  if (existsSync(resultsFile)) report = JSON.parse(readFileSync(resultsFile, 'utf8'));
  const ok = code === 0 && report.failed === 0 && report.results.length > 0 && errorNotifications.length === 0;
  let error;
  if (code === 'timeout') error = `no result within ${timeoutMs / 1000} s (see ${consoleLog})`;
  else if (!report.results.length) error = `the suite reported no test (exit code ${code}; see ${consoleLog})`;
  else if (errorNotifications.length) error = `error notifications appeared: ${errorNotifications.join(' | ')}`;
  return { ok, code, error, results: report.results };
}
