// The UI scenarios, in the order they run (each resets the workbench first).
import s1 from './01-highlighting-diagnostics.mjs';
import s2 from './02-hover.mjs';
import s3 from './03-debug-entry.mjs';
import s4 from './04-vmexit-step.mjs';
import s5 from './05-breakpoints.mjs';
import s6 from './06-debug-console.mjs';
import s7 from './07-compare.mjs';
import s8 from './08-mmu-map.mjs';
import s9 from './09-mmu-map-large.mjs';
import s10 from './10-testing-view.mjs';
import s11 from './11-task-problems.mjs';
import s12 from './12-walkthrough.mjs';

export const SCENARIOS = [s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12];
