/** What every checkpoint reader offers: a list of tensors, and their data one tensor at a time. */
export type DType =
  | 'F64'
  | 'F32'
  | 'F16'
  | 'BF16'
  | 'I64'
  | 'I32'
  | 'I16'
  | 'I8'
  | 'U8'
  | 'U16'
  | 'U32'
  | 'U64'
  | 'BOOL'
  | 'F8_E4M3'
  | 'F8_E5M2';

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set<DType>(['F64', 'F32', 'F16', 'BF16']);

export type CheckpointFormat = 'safetensors' | 'pytorch' | 'onnx';

export interface TensorInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

/** How an ONNX graph uses an initializer; decides whether it is a weight matrix (see src/layers). */
export type WeightRole = 'matmul' | 'gemm' | 'conv' | 'gather' | 'rnn';

/** Where a tensor's bytes lie contiguously, uncompressed and in its own dtype, in a file (for streaming reads). */
export interface TensorLocation {
  readonly path: string;
  /** Absolute byte offset in the file. */
  readonly offset: number;
  readonly length: number;
}

/** Bytes read a range at a time: a file range, or bytes already in memory (src/io/byte-source.ts). */
export interface ByteSource {
  readonly length: number;
  /** `length` bytes from `offset` (relative to the source), into `into` when given and large enough. */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
}

export interface TensorReader {
  readonly format: CheckpointFormat;
  /** Tensors in file order. */
  readonly tensors: readonly TensorInfo[];
  /** ONNX only: initializer name → how the graph uses it (first use wins). */
  readonly roles?: ReadonlyMap<string, WeightRole>;
  /** The exact values upcast to float64 (F16/BF16/F32 → F64 without rounding). Float dtypes only. */
  readFloat64(name: string): Promise<Float64Array>;
  /** Raw little-endian bytes as stored, for writers and integer tensors. */
  readBytes(name: string): Promise<Uint8Array>;
  /**
   * Where the tensor's stored bytes lie in a file, when they lie there contiguously and uncompressed (safetensors,
   * ONNX raw_data and external data), so analysis can stream them; null (or absent) otherwise.
   */
  locate?(name: string): TensorLocation | null;
  close(): Promise<void>;
}
