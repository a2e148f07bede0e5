/**
 * A CLI subcommand: one module `src/cli/commands/<name>.ts` whose named exports are `name`, `summary` and `run`.
 * main.ts finds it by file name and imports only the command that runs, so adding a command means adding a file.
 */
export interface CommandModule {
  /** The word after `weightscope`; equals the file name. */
  name: string;
  /** One line for `weightscope --help`. */
  summary: string;
  /** Runs with the arguments after the command word; resolves to the exit code. */
  run(argv: string[]): Promise<number>;
}

/** Exit codes: 0 ok, 1 the input was bad or a computation failed, 2 the command line itself was wrong. */
export const EXIT_OK = 0;
export const EXIT_INPUT = 1;
export const EXIT_USAGE = 2;
