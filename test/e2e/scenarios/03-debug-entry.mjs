// 3. F5 with no launch.json: the session stops on entry; Variables shows the
//    guest walk and the shadow walk; the Call Stack shows vCPU 0.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export default {
  id: 3,
  title: 'F5 without launch.json: stop on entry, walks, vCPU 0',
  async run(wb) {
    wb.check(!existsSync(join(wb.workspace, '.vscode', 'launch.json')), 'the workspace has no launch.json');
    await wb.openFile('demand-fault.mmutrace', 'read 0x400000 @fault');
    await wb.startDebugging();
    await wb.expect('stopped on entry: the first event, line 13, is current', async () => (await wb.pausedLine()) === 13, { seen: async () => `paused line ${await wb.pausedLine()}` });
    await wb.expect('the Call Stack shows the event `read 0x401000` at 13', async () => /read 0x401000[\s\S]*13:1/.test(await wb.callStackText()), {
      seen: () => wb.callStackText(),
    });
    const vars = wb.variables();
    await wb.expect('Variables shows the scope "Guest walk of 0x401000"', async () => (await wb.variablesText()).includes('Guest walk of 0x401000'), {
      seen: () => wb.variablesText(),
      missing: 'a guest walk scope in the adapter',
    });
    await wb.expect('Variables shows the scope "Shadow walk of 0x401000"', async () => (await wb.variablesText()).includes('Shadow walk of 0x401000'), {
      seen: () => wb.variablesText(),
      missing: 'a shadow walk scope in the adapter',
    });

    // vCPU 0: VS Code's Call Stack lists threads by name only when a session
    // has more than one; with one thread it shows its frames directly.
    const stack = await wb.callStackText();
    const header = await wb.callStackHeader();
    wb.check(/vCPU 0/.test(stack) || /vCPU 0/.test(header), 'the Call Stack shows vCPU 0', {
      seen: `Call Stack: ${JSON.stringify(stack)}; header: ${JSON.stringify(header)}`,
      missing:
        'vCPU 0 in the Call Stack: VS Code 1.139 shows no thread row for a session with a single thread (only its frames), so "vCPU 0" appears there only if the adapter names it, e.g. in the stopped event\'s description ("vCPU 0: stopped before the first event", shown in the Call Stack header) or in the bottom frame\'s name',
    });
    await wb.shot('03-debug-stopped-on-entry');

    // Next event: the walks of 0x400000, expanded, down to the empty leaf.
    await wb.afterStop('F10', () => wb.press('F10'));
    await wb.expect('F10 ran line 13: line 15 is current', async () => (await wb.pausedLine()) === 15, { seen: async () => `paused line ${await wb.pausedLine()}` });
    const guest = await wb.revealRow(vars, /^Guest walk of 0x400000/);
    await wb.expandRow(guest);
    await wb.expect('the guest walk of 0x400000: L2 [2] points to the L1 table', async () => /^0x10003027 P W U A → L1 table/.test(await wb.varValue('L2 [2]')), {
      seen: () => wb.varValue('L2 [2]'),
    });
    await wb.expect('… and ends at the empty leaf: L1 [0] = 0x0 not present', async () => (await wb.varValue('L1 [0]')) === '0x0 not present', { seen: () => wb.varValue('L1 [0]') });
    await wb.expect('… whose result is the #PF 0x4 the guest will get', async () => /^#PF 0x4/.test(await wb.varValue('result')), { seen: () => wb.varValue('result') });
    const shadow = await wb.revealRow(vars, /^Shadow walk of 0x400000/);
    await wb.expandRow(shadow);
    await wb.expect('the shadow walk of 0x400000 goes through the shadow pages, #1 to #4', async () => /→ shadow page #2/.test(await wb.varValue('L4 #1 [0]')), {
      seen: () => wb.varValue('L4 #1 [0]'),
      missing: 'the shadow walk scope',
    });
    await wb.expect('… and ends at the empty shadow leaf: L1 #4 [0] = 0x0 not present', async () => (await wb.varValue('L1 #4 [0]')) === '0x0 not present', {
      seen: () => wb.varValue('L1 #4 [0]'),
    });
    // For the picture: both walks in sight.
    try {
      await wb.setViewExpanded('Breakpoints', false);
      await wb.collapseRow(await wb.revealRow(vars, /^Event$/));
      await wb.revealRow(vars, /^Guest walk of 0x400000/);
    } catch (e) {
      wb.check(false, 'the Variables view arranged for the picture (Event collapsed)', { seen: e.message.split('\n')[0] });
    }
    await wb.shot('03-debug-walks');
    await wb.setViewExpanded('Breakpoints', true);
    await wb.stopDebugging();
  },
};
