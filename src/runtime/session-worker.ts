/** The session worker thread: carries session.ts's requests to session-host.ts and its answers back. */
import { parentPort } from 'node:worker_threads';
import { respond } from './session-host.js';
import type { WorkerRequest } from './wire.js';

if (!parentPort) throw new Error('session-worker must run in a worker thread');
const port = parentPort;

port.on('message', (req: WorkerRequest) => {
  void respond(req).then((res) => {
    const transfer: ArrayBuffer[] = [];
    if (res.ok && res.outputs) for (const t of Object.values(res.outputs)) transfer.push(t.data.buffer as ArrayBuffer);
    port.postMessage(res, transfer);
  });
});
