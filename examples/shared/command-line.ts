// The examples' command lines: one line for a mistake, never a parseArgs or
// EADDRINUSE stack. A user trying `npm start -- --help` or a busy port should
// read what to type next, as the broker's own CLI tells them.
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses `process.argv` for an example. `--help` prints `usage` and exits 0;
 * an unknown option, a missing value or a stray argument prints one line and
 * the usage and exits 2 (the shell's "misused" status).
 */
export function exampleArgs<const O extends Options>(name: string, usage: string, options: O): Values<O> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    console.error(`${name}: ${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

type Values<O extends Options> = ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>['values'];

/** A whole number from an option, or the same one-line refusal as a bad flag. */
export function wholeNumber(name: string, usage: string, flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (value.trim() === '' || !Number.isInteger(number) || number < 0) {
    console.error(`${name}: ${flag} takes a whole number, got "${value}"\n${usage}`);
    process.exit(2);
  }
  return number;
}

/** A busy port is one line, not an EADDRINUSE stack: which port, and how to pick another. */
export function exitIfPortBusy(what: string, flag: string, port: unknown): (error: NodeJS.ErrnoException) => never {
  return (error) => {
    if (error.code !== 'EADDRINUSE') throw error;
    console.error(`${what}: port ${String(port)} is already in use; pass ${flag} <another port> (0 picks a free one)`);
    process.exit(1);
  };
}
