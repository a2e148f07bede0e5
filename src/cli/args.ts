/** Shared argument handling for subcommands: node:util parseArgs with errors as WeightscopeError('invalid-input'). */
import { writeFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WeightscopeError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** Parse `argv` strictly; an unknown flag or a missing value → a usage error naming it. */
export function parseCommandArgs(argv: string[], options: Options, usage: string): Parsed {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    // node's messages are long ("… place it at the end of the command after '--' …"): keep the first clause
    const unknown = /^Unknown option '([^']+)'/.exec(msg);
    const short = unknown ? `unknown option ${unknown[1]}` : msg.replace(/\.$/, '');
    throw new WeightscopeError('invalid-input', `${short} (usage: ${usage})`, { usage: true });
  }
}

/** A non-negative integer flag value. */
export function intFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  if (!/^\d+$/.test(s))
    throw new WeightscopeError('invalid-input', `${flag} needs a non-negative integer, got ${JSON.stringify(s)}`, { usage: true });
  return Number(s);
}

/** A comma-separated list flag (`--fits pl,etpl`); repeated flags are concatenated. */
export function listFlag(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  const parts = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

/**
 * parseCommandArgs with `-h/--help` added: when help is asked, prints `help` and returns null (the command then
 * exits 0), before any other check.
 */
export function parseArgsOrPrintHelp(argv: string[], options: Options, usage: string, help: string): Parsed | null {
  const parsed = parseCommandArgs(argv, { ...options, help: { type: 'boolean', short: 'h' } }, usage);
  if (parsed.values.help) {
    process.stdout.write(help);
    return null;
  }
  return parsed;
}

/** --graph config|onnx (which graph of a Hugging Face folder runs). */
export function graphFlag(value: unknown): 'config' | 'onnx' | undefined {
  if (value === undefined) return undefined;
  const g = String(value);
  if (g !== 'config' && g !== 'onnx')
    throw new WeightscopeError('invalid-input', `--graph must be config or onnx, got ${JSON.stringify(g)}`, { usage: true });
  return g;
}

/** Writes a command's JSON report to the --report path, or a clear error. */
export async function writeReportFile(path: string, json: string): Promise<void> {
  try {
    await writeFile(path, json);
  } catch (e) {
    throw new WeightscopeError('not-found', `cannot write the report to ${path}: ${(e as Error).message}`);
  }
}
