/** Worker-thread side of the layer-spectrum pool (src/report/esd-runner.ts): one layer at a time, see esd.ts. */
import { bytesSource, fileSource } from '../io/byte-source.js';
import { setBlasThreads } from '../linalg/lapack.js';
import { serveWorker } from '../util/worker-pool.js';
import { layerSpectrum, type LayerSpectrum } from './esd.js';
import type { EsdRequest } from './esd-source.js';

const init = serveWorker<EsdRequest, LayerSpectrum>(async ({ job, source }) => {
  let value: LayerSpectrum;
  if (source.kind === 'bytes') {
    value = await layerSpectrum(job, bytesSource(new Uint8Array(source.buffer, source.byteOffset, source.byteLength)));
  } else {
    const src = await fileSource(source.location);
    try {
      value = await layerSpectrum(job, src);
    } finally {
      await src.close();
    }
  }
  return { value, transfer: (value.slices ?? []).map((s) => s.buffer as ArrayBuffer) };
}) as { blasThreads?: number } | null;
if (init?.blasThreads) setBlasThreads(init.blasThreads);
