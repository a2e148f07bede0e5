/**
 * The one data input of a Transformer graph. The engine feeds a model one tensor per batch (x), so an encoder's
 * several inputs travel packed along axis 1 of one int64 tensor [batch, rows, seq] and the graph takes them apart:
 * rows input_ids, attention_mask, token_type_ids (and, for a masked-LM head, a 0/1 marker of the predicted position).
 * The same packing feeds an ONNX export's separate inputs (onnx-export.ts), so both routes take the same data.
 */
export const ENCODER_ROWS = ['input_ids', 'attention_mask', 'token_type_ids'] as const;
export const MASKED_LM_ROWS = [...ENCODER_ROWS, 'target_position'] as const;
export type EncoderRow = (typeof MASKED_LM_ROWS)[number];

export type InputLayout =
  /** Causal LMs: token ids [batch, seq] (no padding: every position is a real token). */
  | { readonly kind: 'tokens'; readonly name: 'input_ids'; readonly vocab: number; readonly maxSeq: number | null }
  /** Encoders: [batch, rows, seq] int64 with `rows` in this order. */
  | {
      readonly kind: 'encoder';
      /** 'encoder_inputs' (another name only where an export already uses that one). */
      readonly name: string;
      readonly rows: readonly EncoderRow[];
      readonly vocab: number;
      readonly typeVocab: number;
      readonly maxSeq: number | null;
    }
  /** Image classifiers: float32 [batch, channels, size, size]. */
  | { readonly kind: 'pixels'; readonly name: 'pixel_values'; readonly channels: number; readonly size: number }
  /** Anything else (an ONNX file's one input, as given). */
  | { readonly kind: 'raw'; readonly name: string };
