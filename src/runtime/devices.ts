/**
 * The one list of devices (onnxruntime execution providers) and what a user may ask for: a device by name, or
 * 'auto' — the first GPU provider of AUTO_ORDER that is present and starts, else the CPU. A named device that is
 * missing is an error, never a silent CPU fallback. CLI options, zod schemas and help texts all read this module.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { WeightscopeError } from '../errors.js';

export const DEVICES = ['cpu', 'webgpu', 'cuda'] as const;
/** A device a session runs on. */
export type Device = (typeof DEVICES)[number];

export const DEVICE_CHOICES = [...DEVICES, 'auto'] as const;
/** What a caller may ask for: a device, or 'auto'. */
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];

export const DEFAULT_DEVICE = 'cpu' satisfies DeviceChoice;

/** The GPU providers 'auto' tries, in order, before falling back to the CPU. */
export const AUTO_ORDER: readonly Device[] = ['cuda', 'webgpu'];

/** One line for CLI help: the choices and the default. */
export const DEVICE_HELP = `${DEVICE_CHOICES.join(', ')} (default ${DEFAULT_DEVICE}; auto: a usable GPU, else cpu)`;

export function isDeviceChoice(d: string): d is DeviceChoice {
  return (DEVICE_CHOICES as readonly string[]).includes(d);
}

/** A device choice from user input (default DEFAULT_DEVICE); anything else is invalid input. */
export function parseDevice(device: string | undefined): DeviceChoice {
  const d = device ?? DEFAULT_DEVICE;
  if (!isDeviceChoice(d)) {
    throw new WeightscopeError('invalid-input', `unknown device '${d}' (expected one of ${DEVICE_CHOICES.join(', ')})`);
  }
  return d;
}

/**
 * Whether onnxruntime-node's CUDA execution provider libraries sit next to its binding. npm does not ship them (too
 * large): `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install` downloads them. Without them a CUDA session cannot start, so
 * this is checked before asking onnxruntime (which would log a loader error).
 */
export function cudaBinariesInstalled(): boolean {
  const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  try {
    const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
    return existsSync(join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch, lib));
  } catch {
    return false;
  }
}

/** What a user can do about a device that does not start. */
export function deviceHint(device: Device): string {
  switch (device) {
    case 'cuda':
      return 'CUDA needs an NVIDIA GPU and onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12';
    case 'webgpu':
      return 'WebGPU needs a GPU adapter (Vulkan on Linux)';
    case 'cpu':
      return '';
  }
}
