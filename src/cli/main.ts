#!/usr/bin/env node
/**
 * `weightscope <command> [args]`. Commands are discovered as files in ./commands (`<name>.js` when built,
 * `<name>.ts` under tsx); only the one that runs is imported. A WeightscopeError prints one line on stderr and exits
 * 2 (bad command line) or 1 (bad input); any other error is a bug and keeps its stack trace.
 */
import { readdirSync, realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isWeightscopeError } from '../errors.js';
import { setRuntimeMode } from '../runtime/session.js';
import { EXIT_INPUT, EXIT_USAGE, type CommandModule } from './types.js';

const COMMANDS_DIR = new URL('./commands/', import.meta.url);
const COMMAND_FILE = /^([a-z][a-z0-9-]*)\.(?:js|ts)$/;

/** Command names available in this build, sorted. */
export function commandNames(): string[] {
  let files: string[];
  try {
    files = readdirSync(COMMANDS_DIR);
  } catch {
    return [];
  }
  const names = new Set<string>();
  for (const f of files) {
    if (f.endsWith('.d.ts')) continue;
    const m = COMMAND_FILE.exec(f);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

function isCommandModule(m: unknown): m is CommandModule {
  const c = m as Partial<CommandModule> | null;
  return !!c && typeof c.name === 'string' && typeof c.summary === 'string' && typeof c.run === 'function';
}

export async function loadCommand(name: string): Promise<CommandModule | null> {
  if (!commandNames().includes(name)) return null;
  const files = readdirSync(COMMANDS_DIR);
  const file = files.includes(`${name}.js`) ? `${name}.js` : `${name}.ts`;
  const mod: unknown = await import(new URL(file, COMMANDS_DIR).href);
  if (!isCommandModule(mod)) throw new Error(`src/cli/commands/${file} does not export name, summary and run`);
  return mod;
}

async function help(): Promise<string> {
  const lines = ['Usage: weightscope <command> [options]', '', 'Commands:'];
  for (const n of commandNames()) {
    const c = await loadCommand(n);
    if (c) lines.push(`  ${n.padEnd(14)} ${c.summary}`);
  }
  lines.push('', 'Run `weightscope <command> --help` for the options of a command.');
  return lines.join('\n');
}

/** Runs the CLI; resolves to the exit code (never throws for a WeightscopeError). */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      const text = await help();
      if (cmd === undefined) {
        process.stderr.write(text + '\n');
        return EXIT_USAGE;
      }
      process.stdout.write(text + '\n');
      return 0;
    }
    if (cmd === '--version' || cmd === '-V') {
      process.stdout.write('weightscope 0.1.0\n');
      return 0;
    }
    const command = await loadCommand(cmd);
    if (!command) {
      process.stderr.write(`weightscope: unknown command ${JSON.stringify(cmd)} (commands: ${commandNames().join(', ')})\n`);
      return EXIT_USAGE;
    }
    return await command.run(rest);
  } catch (e) {
    if (isWeightscopeError(e)) {
      process.stderr.write(`weightscope: ${e.message.replace(/\s*\n\s*/g, ' ')}\n`);
      return e.details?.usage === true ? EXIT_USAGE : EXIT_INPUT;
    }
    throw e;
  }
}

/** True when this file is the process entry (node dist/cli/main.js, the npm bin link, or tsx src/cli/main.ts). */
function isEntry(): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return pathToFileURL(realpathSync(argv1)).href === pathToFileURL(realpathSync(fileURLToPath(import.meta.url))).href;
  } catch {
    return false;
  }
}

if (isEntry()) {
  // A CLI process does one job: onnxruntime may run on this thread (no round trip to a session worker). The server
  // keeps the worker, so its event loop stays free while graphs run.
  const argv = process.argv.slice(2);
  (argv[0] === 'serve' ? Promise.resolve() : setRuntimeMode('inline'))
    .then(() => main(argv))
    .then(
      (code) => {
        process.exitCode = code;
      },
      (e: unknown) => {
        process.stderr.write(`weightscope: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exitCode = 70;
      },
    );
}
