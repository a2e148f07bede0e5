/** What an eigen worker is sent for one layer: the job and where its bytes are (a file range, or the bytes). */
import type { TensorLocation } from '../io/types.js';
import type { LayerJob } from './esd.js';

export type SpectrumSource =
  | { readonly kind: 'file'; readonly location: TensorLocation }
  | { readonly kind: 'bytes'; readonly buffer: ArrayBuffer; readonly byteOffset: number; readonly byteLength: number };

export interface EsdRequest {
  job: LayerJob;
  source: SpectrumSource;
}
