// The debug adapter on stdin/stdout: `node dist/adapter.js` (debugger.md).
import { MmuTraceSession } from './session';

MmuTraceSession.run(MmuTraceSession);
