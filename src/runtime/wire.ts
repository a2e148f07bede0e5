/**
 * Tensors as they cross between the main thread and the session worker: a plain typed array and its dims
 * (structured-clone friendly, no onnxruntime objects), plus the messages of that protocol.
 */
import type { Device } from './devices.js';

export { DEVICES, type Device } from './devices.js';

export type TensorType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

export type TensorArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface HostTensor {
  readonly type: TensorType;
  readonly data: TensorArray;
  readonly dims: readonly number[];
}

export interface SessionInfo {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

/**
 * A data feed kept resident in the worker under `ref` (see session.ts): `tensor` travels only when the main side
 * believes the worker lacks it (first use, or after the worker said it is missing); otherwise the ref alone does.
 */
export interface ResidentFeed {
  readonly ref: number;
  readonly tensor?: HostTensor;
}

export type WorkerRequest =
  | {
      readonly id: number;
      readonly kind: 'create';
      readonly key: string;
      readonly bytes: Uint8Array;
      readonly device: Device;
      readonly threads: number;
    }
  | {
      readonly id: number;
      readonly kind: 'run';
      readonly key: string;
      readonly feeds: Readonly<Record<string, HostTensor>>;
      /** Data feeds by reference to the worker's resident store (names disjoint from `feeds`). */
      readonly resident?: Readonly<Record<string, ResidentFeed>>;
      readonly fetches: readonly string[] | null;
    }
  | { readonly id: number; readonly kind: 'release'; readonly key: string }
  /** Whether the device's execution provider is present and starts (ok, or a device-unavailable failure). */
  | { readonly id: number; readonly kind: 'probe'; readonly device: Device }
  /** Bounds the worker's resident data store (bytes); shrinking evicts at once. */
  | { readonly id: number; readonly kind: 'resident-limit'; readonly bytes: number };

export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly info?: SessionInfo; readonly outputs?: Record<string, HostTensor> }
  | {
      readonly id: number;
      readonly ok: false;
      readonly code: 'device-unavailable' | 'invalid-input' | 'unsupported-op' | 'shape-mismatch' | null;
      readonly message: string;
      /** Resident refs the worker does not hold (evicted, or a fresh worker): resend them with their bytes. */
      readonly missing?: readonly number[];
    };

export function float32(data: Float32Array, dims: readonly number[]): HostTensor {
  return { type: 'float32', data, dims };
}

export function int64(data: BigInt64Array, dims: readonly number[]): HostTensor {
  return { type: 'int64', data, dims };
}
