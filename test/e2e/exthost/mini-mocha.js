// A small mocha-style runner (describe / it / before / after, per-test
// timeouts) for the suite that runs inside code-server's extension host,
// where the project's node_modules are not on the module path. It reports
// each test on the console (forwarded to the harness through
// codeAutomationLog) and writes a JSON report to $MMUTRACE_E2E_EXT_RESULTS.
'use strict';

const fs = require('fs');

function createRunner() {
  const root = { title: '', tests: [], suites: [], before: [], after: [], parent: null };
  let current = root;
  const api = {
    describe(title, fn) {
      const s = { title, tests: [], suites: [], before: [], after: [], parent: current };
      current.suites.push(s);
      const prev = current;
      current = s;
      try {
        fn();
      } finally {
        current = prev;
      }
    },
    it(title, fn, timeoutMs = 30000) {
      current.tests.push({ title, fn, timeoutMs });
    },
    before(fn) {
      current.before.push(fn);
    },
    after(fn) {
      current.after.push(fn);
    },
  };

  function withTimeout(p, ms, what) {
    let t;
    return Promise.race([
      Promise.resolve(p).finally(() => clearTimeout(t)),
      new Promise((_, rej) => {
        t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms);
      }),
    ]);
  }

  async function runSuite(s, path, results, log) {
    const name = [...path, s.title].filter(Boolean);
    let hooksOk = true;
    for (const h of s.before) {
      try {
        await withTimeout(h(), 60000, `before (${name.join(' › ')})`);
      } catch (e) {
        hooksOk = false;
        results.push({ title: [...name, '(before)'].join(' › '), ok: false, error: String(e && e.stack || e), ms: 0 });
        log(`  ✗ ${[...name, '(before)'].join(' › ')}: ${e && e.message}`);
      }
    }
    for (const t of s.tests) {
      const title = [...name, t.title].join(' › ');
      if (!hooksOk) {
        results.push({ title, ok: false, error: 'skipped: a before hook failed', ms: 0 });
        log(`  ✗ ${title}: skipped (before hook failed)`);
        continue;
      }
      const t0 = Date.now();
      try {
        await withTimeout(t.fn(), t.timeoutMs, title);
        results.push({ title, ok: true, ms: Date.now() - t0 });
        log(`  ✓ ${title} (${Date.now() - t0} ms)`);
      } catch (e) {
        results.push({ title, ok: false, error: String((e && e.stack) || e), ms: Date.now() - t0 });
        log(`  ✗ ${title}: ${e && e.message}`);
      }
    }
    for (const child of s.suites) await runSuite(child, name, results, log);
    for (const h of s.after) {
      try {
        await withTimeout(h(), 60000, `after (${name.join(' › ')})`);
      } catch (e) {
        results.push({ title: [...name, '(after)'].join(' › '), ok: false, error: String(e && e.stack || e), ms: 0 });
        log(`  ✗ ${[...name, '(after)'].join(' › ')}: ${e && e.message}`);
      }
    }
  }

  async function run() {
    const results = [];
    const log = (s) => console.log(`[ext-suite] ${s}`);
    const t0 = Date.now();
    await runSuite(root, [], results, log);
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    log(`${passed} passing, ${failed} failing (${Date.now() - t0} ms)`);
    const out = process.env.MMUTRACE_E2E_EXT_RESULTS;
    if (out) fs.writeFileSync(out, JSON.stringify({ passed, failed, results }, null, 2));
    if (failed > 0) throw new Error(`${failed} extension-host test(s) failed`);
  }

  return { api, run };
}

module.exports = { createRunner };
