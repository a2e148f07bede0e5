/** Worker-thread entry of isolatedInspector (inspect.ts): inspects one file and posts the summary or the error. */
import { parentPort, workerData } from 'node:worker_threads';
import { isWeightscopeError } from '../../errors.js';
import { inspectCheckpoint, inspectDataset, type InspectReply, type InspectTask } from './inspect.js';

const port = parentPort;
if (!port) throw new Error('inspect-worker must run in a worker thread');
const task = workerData as InspectTask;
const reply = (m: InspectReply): void => port.postMessage(m);

(task.what === 'checkpoint' ? inspectCheckpoint(task.path) : inspectDataset(task.path)).then(
  (summary) => reply({ ok: true, summary }),
  (e: unknown) => {
    if (isWeightscopeError(e)) reply({ ok: false, code: e.code, message: e.message });
    else {
      // A reader failing with something other than a WeightscopeError is a reader bug (the fuzzer's quarry): say so.
      console.error('[weightscope inspect]', e);
      reply({ ok: false, code: 'corrupt-file', message: `the file could not be read (${e instanceof Error ? e.message : String(e)})` });
    }
  },
);
