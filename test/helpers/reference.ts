/** WeightWatcher 0.7.5.5 reference outputs in shared/reference/weightwatcher (fixture name → fits → rows). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED } from './fixtures.js';

export type RefRow = Record<string, number | string | boolean | null> & { layer_id: number; name: string };

export interface WwReference {
  weightwatcher_version: string;
  fits: Record<string, { seconds: number; layers: RefRow[] }>;
}

export function wwReference(name: string): WwReference {
  return JSON.parse(readFileSync(join(SHARED, 'reference', 'weightwatcher', `${name}.json`), 'utf8')) as WwReference;
}

/** Each reference file and the fixture checkpoint(s) it was computed from (paths under shared/fixtures). */
export const WW_CASES: readonly { ref: string; files: readonly string[][] }[] = [
  { ref: 'stories260k', files: [['stories260k', 'model.safetensors']] },
  {
    ref: 'gpt2-tiny',
    files: [
      ['gpt2-tiny', 'model.safetensors'],
      ['gpt2-tiny', 'pytorch_model.bin'],
      ['gpt2-tiny', 'onnx', 'model.onnx'],
    ],
  },
  {
    ref: 'fmnist-hessian-mlp48',
    files: [
      ['fmnist-hessian', 'mlp48.safetensors'],
      ['fmnist-hessian', 'mlp48.onnx'],
    ],
  },
  {
    ref: 'fmnist-backdoor-model_a',
    files: [
      ['fmnist-backdoor', 'model_a.safetensors'],
      ['fmnist-backdoor', 'model_a.pt'],
      ['fmnist-backdoor', 'model_a.onnx'],
    ],
  },
  {
    ref: 'fmnist-backdoor-model_b',
    files: [
      ['fmnist-backdoor', 'model_b.safetensors'],
      ['fmnist-backdoor', 'model_b.pt'],
      ['fmnist-backdoor', 'model_b.onnx'],
    ],
  },
];
