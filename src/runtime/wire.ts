/**
 * Tensors as they cross between the main thread and the session worker: a plain typed array and its dims
 * (structured-clone friendly, no onnxruntime objects), plus the messages of that protocol.
 */
export type TensorType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';

export type TensorArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface HostTensor {
  readonly type: TensorType;
  readonly data: TensorArray;
  readonly dims: readonly number[];
}

export type Device = 'cpu' | 'webgpu' | 'cuda';

export const DEVICES: readonly Device[] = ['cpu', 'webgpu', 'cuda'];

export interface SessionInfo {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
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
      readonly fetches: readonly string[] | null;
    }
  | { readonly id: number; readonly kind: 'release'; readonly key: string };

export type WorkerResponse =
  | { readonly id: number; readonly ok: true; readonly info?: SessionInfo; readonly outputs?: Record<string, HostTensor> }
  | {
      readonly id: number;
      readonly ok: false;
      readonly code: 'device-unavailable' | 'invalid-input' | 'unsupported-op' | 'shape-mismatch' | null;
      readonly message: string;
    };

export function float32(data: Float32Array, dims: readonly number[]): HostTensor {
  return { type: 'float32', data, dims };
}

export function int64(data: BigInt64Array, dims: readonly number[]): HostTensor {
  return { type: 'int64', data, dims };
}
