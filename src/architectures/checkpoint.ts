/**
 * Binding a checkpoint's tensors to the parameters a forward graph reads, as from_pretrained finds them: the name
 * with the base-model prefix (`transformer.`, `model.`, `bert.`, …) or without it when the file was saved from the
 * base model (openai-community/gpt2 has `h.0.attn.c_attn.weight`), and legacy LayerNorm names (`gamma`/`beta`). The
 * graph's parameter is named as the tensor is named in the file, so gradients, Hv and written models keep the
 * checkpoint's own names. Tensors nothing reads (buffers such as `attn.bias`, `position_ids`, `rotary_emb.inv_freq`,
 * or a pooler a head does not use) are left alone, as transformers ignores them.
 */
import { WeightscopeError } from '../errors.js';
import { DT, type Graph } from '../graph/ir.js';
import { FLOAT_DTYPES, type DType, type TensorInfo } from '../io/types.js';

export interface BoundParam {
  /** The tensor's name in the checkpoint (= the graph parameter's name). */
  readonly name: string;
  /** The name transformers' head model gives it (with the base-model prefix). */
  readonly canonical: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

/** A tensor of the file that transformers ties to a parameter (its value is the parameter's). */
export interface TiedCopy {
  readonly name: string;
  readonly source: string;
  /** The copy is stored transposed relative to the source. */
  readonly transposed: boolean;
}

export class CheckpointBinder {
  readonly #byName: Map<string, TensorInfo>;
  readonly #prefix: string;
  readonly #hasPrefix: boolean;
  readonly #graph: Graph;
  readonly #what: string;
  readonly #params = new Map<string, BoundParam>();
  readonly #tied: TiedCopy[] = [];

  /** `what` names the model in messages (e.g. "GPT2LMHeadModel (config.json)"). */
  constructor(tensors: readonly TensorInfo[], prefix: string, graph: Graph, what: string) {
    this.#byName = new Map(tensors.map((t) => [t.name, t]));
    this.#prefix = prefix;
    this.#hasPrefix = tensors.some((t) => t.name.startsWith(`${prefix}.`));
    this.#graph = graph;
    this.#what = what;
  }

  /** Names the checkpoint may use for `canonical`, in from_pretrained's order of preference. */
  #candidates(canonical: string): string[] {
    const p = `${this.#prefix}.`;
    const base = canonical.startsWith(p) && !this.#hasPrefix ? canonical.slice(p.length) : canonical;
    const out = [base];
    if (base.endsWith('.weight')) out.push(`${base.slice(0, -'.weight'.length)}.gamma`);
    if (base.endsWith('.bias')) out.push(`${base.slice(0, -'.bias'.length)}.beta`);
    return out;
  }

  /** The tensor stored for `canonical`, or null. */
  find(canonical: string): TensorInfo | null {
    for (const n of this.#candidates(canonical)) {
      const t = this.#byName.get(n);
      if (t) return t;
    }
    return null;
  }

  has(canonical: string): boolean {
    return this.find(canonical) !== null;
  }

  /** The graph parameter for `canonical` with the shape the config implies (declared in the graph, float32). */
  param(canonical: string, shape: readonly number[]): string {
    const t = this.find(canonical);
    if (!t) {
      throw new WeightscopeError(
        'not-found',
        `${this.#what}: the checkpoint has no tensor '${canonical}'${this.#hasPrefix ? '' : ` (nor '${this.#candidates(canonical)[0]}')`}`,
        {
          tensor: canonical,
        },
      );
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new WeightscopeError(
        'shape-mismatch',
        `${this.#what}: tensor '${t.name}' is [${t.shape.join(', ')}], config.json implies [${shape.join(', ')}]`,
        { tensor: t.name },
      );
    }
    if (!FLOAT_DTYPES.has(t.dtype)) {
      throw new WeightscopeError(
        'unsupported-dtype',
        `${this.#what}: tensor '${t.name}' is ${t.dtype}; parameters must be F32, F16, BF16 or F64 (quantized checkpoints are not read)`,
        {
          tensor: t.name,
        },
      );
    }
    const prev = this.#params.get(t.name);
    if (!prev) {
      this.#params.set(t.name, { name: t.name, canonical, shape: [...shape], dtype: t.dtype });
      this.#graph.values.set(t.name, { dtype: DT.FLOAT, shape: [...shape] });
    }
    return t.name;
  }

  /** Record that the file's tensor for `canonical` (if stored) is a tied copy of parameter `source`. */
  tie(canonical: string, source: string, transposed = false): void {
    const t = this.find(canonical);
    if (t && t.name !== source) this.#tied.push({ name: t.name, source, transposed });
  }

  get params(): BoundParam[] {
    return [...this.#params.values()];
  }

  get tied(): TiedCopy[] {
    return [...this.#tied];
  }
}
