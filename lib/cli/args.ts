// What the CLI's dispatcher and its subcommands share: the subcommand contract, where output
// goes, usage errors, argument parsing and the checks several subcommands apply to their
// flags. Subcommands import this, never main.ts, so lib/cli has no import circle.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** What a subcommand module exports. */
export interface CommandModule {
  /** Shown by `cudnn-resnet <name> --help` and after a usage error, below "usage: ". */
  usage: string;
  /** Returns the exit code. Throw UsageError for a bad command line (exit code 2). */
  run(argv: string[], io: CliIO): Promise<number> | number;
}

/** Where a command writes; tests pass their own. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** A bad command line: the dispatcher prints the message and the usage and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_USAGE = 2;

/** node:util parseArgs (strict) with its errors turned into UsageError, for subcommands. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs<T>(config);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

export function packageVersion(): string {
  // dist/lib/cli -> package root
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'cudnn-resnet' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

export function intArg(v: string, flag: string, min = 1): number {
  if (!/^\d+$/.test(v.trim()) || Number(v) < min || !Number.isSafeInteger(Number(v)))
    throw new UsageError(`--${flag} must be an integer >= ${min}, got '${v}'`);
  return Number(v);
}

export function floatArg(v: string, flag: string, min = 0): number {
  const x = Number(v);
  if (v.trim() === '' || !Number.isFinite(x) || x < min) throw new UsageError(`--${flag} must be a number >= ${min}, got '${v}'`);
  return x;
}

/** Checks a model name against the catalogue (and CIFAR depths 6n+2); throws UsageError. */
export async function checkModelName(name: string, flag = 'model'): Promise<string> {
  const { names, create } = await import('../models/resnet');
  const key = name.toLowerCase().replace(/_/g, '-');
  if (names().includes(key)) return name;
  if (/^(resnet|plain|preact-resnet)\d+$/.test(key)) {
    try {
      create(key, { classes: 10, seed: 0 }).dispose();
      return name;
    } catch {
      /* fall through */
    }
  }
  throw new UsageError(`--${flag}: unknown model '${name}'; known: ${names().join(', ')} (and CIFAR depths 6n+2 such as resnet8, plain8)`);
}

/** Checks --data before anything heavy is loaded. */
export async function checkDataArg(kind: 'cifar10' | 'cifar100', p: string): Promise<void> {
  if (!fs.existsSync(p)) throw new UsageError(`--data: no such file or folder: ${p}`);
  const { locateCifar } = await import('../data/cifar');
  try {
    locateCifar(kind, p);
  } catch (e) {
    throw new UsageError(`--data: ${(e as Error).message}`);
  }
}
