/**
 * Opens a checkpoint once to prove it is readable before anything is stored: the readers refuse truncated files
 * (corrupt-file) and pickles that ask for globals outside the allow-list (unsafe-pickle), without executing them.
 */
import { WeightscopeError } from '../../errors.js';
import { sniffFormat, type SniffedFormat } from '../../io/sniff.js';

export interface CheckpointSummary {
  format: string;
  tensors: number;
  parameters: number;
}

export type Inspector = (path: string) => Promise<CheckpointSummary>;

/** The file name a single unnamed upload gets, so the readers (and humans) see the usual HF name. */
export function defaultFileName(format: SniffedFormat): string {
  switch (format) {
    case 'safetensors': return 'model.safetensors';
    case 'pytorch': return 'pytorch_model.bin';
    case 'onnx': return 'model.onnx';
    case 'legacy-pytorch':
      throw new WeightscopeError('unsupported-format', 'legacy (pre-1.6, non-zip) PyTorch checkpoints are not supported; re-save with torch.save in the zip format');
    default:
      throw new WeightscopeError('unsupported-format', 'the file is none of safetensors, PyTorch zip or ONNX');
  }
}

export async function sniff(path: string): Promise<SniffedFormat> {
  return sniffFormat(path);
}

export const inspectCheckpoint: Inspector = async (path) => {
  // Loaded on first use: the readers pull in protobuf and zip code the rest of the service does not need.
  const { openCheckpoint } = await import('../../io/open.js');
  const { reader } = await openCheckpoint(path);
  try {
    let parameters = 0;
    for (const t of reader.tensors) parameters += t.shape.reduce((a, b) => a * b, 1);
    return { format: reader.format, tensors: reader.tensors.length, parameters };
  } finally {
    await reader.close();
  }
};
