// The `cudnn-resnet` command: a dispatcher over subcommands. Each subcommand is a module
// loaded only when it runs, so `--version`, `--help` and a usage error never load the addon.
// Adding one is a single line in COMMANDS; the module exports `usage` and `run`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

import { isExpectedError } from '../errors';

/** What a subcommand module exports. */
export interface CommandModule {
  /** Shown by `cudnn-resnet <name> --help` and after a usage error, below "usage: ". */
  usage: string;
  /** Returns the exit code. Throw UsageError for a bad command line (exit code 2). */
  run(argv: string[], io: CliIO): Promise<number> | number;
}

interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

// Register a subcommand here: name, one-line summary, lazy import.
const COMMANDS: CommandEntry[] = [
  { name: 'doctor', summary: 'check the platform, addon build, GPU, driver, CUDA runtime and cuDNN', load: () => import('./doctor') },
  { name: 'train', summary: 'train a ResNet on CIFAR-10/100 or synthetic data (no arguments: a short demo)', load: () => import('./train') },
  { name: 'grad-flow', summary: 'per-layer gradient norms of plain vs residual nets: table, JSON, SVG', load: () => import('./grad-flow') },
  { name: 'degradation', summary: 'plain vs ResNet training/test error against iterations (the paper\'s Figure 6)', load: () => import('./degradation') },
];

/** Where a command writes; tests pass their own. */
export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const stdio: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

/** A bad command line: the dispatcher prints the message and the usage and exits with 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT_USAGE = 2;

/**
 * node:util parseArgs (strict) with its errors turned into UsageError, for subcommands. A
 * negative number after a string option is its value (`--epochs -1`), so the range check
 * of the option reports it, rather than parseArgs calling it an ambiguous option.
 */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    const takesValue = (a: string) => a.startsWith('--') && !a.includes('=') && config.options?.[a.slice(2)]?.type === 'string';
    const args = config.args?.flatMap((a, i, all) =>
      (/^-[\d.]/.test(a) && i > 0 && takesValue(all[i - 1]) ? [] : takesValue(a) && /^-[\d.]/.test(all[i + 1] ?? '') ? [`${a}=${all[i + 1]}`] : [a]));
    return parseArgs<T>(args ? { ...config, args } : config);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

// A failed file operation (ENOENT, EACCES, ENOTDIR...): Node's message names the call and path.
function isFileSystemError(e: unknown): e is Error {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).path === 'string' && /^E[A-Z]+$/.test(String((e as NodeJS.ErrnoException).code));
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

function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: cudnn-resnet <command> [options]',
    '       cudnn-resnet --version | --help',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `cudnn-resnet <command> --help` for its options.',
  ].join('\n');
}

/** Runs the CLI on argv (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: CliIO = stdio): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(mainUsage());
    return EXIT_USAGE;
  }
  if (first === '--version' || first === '-v') {
    io.out(packageVersion());
    return 0;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(mainUsage());
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === first);
  if (!entry) {
    io.err(`cudnn-resnet: ${first.startsWith('-') ? 'unknown option' : 'unknown command'} '${first}'\n\n${mainUsage()}`);
    return EXIT_USAGE;
  }
  const mod = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(`usage: ${mod.usage}`);
    return 0;
  }
  try {
    return await mod.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`cudnn-resnet ${entry.name}: ${e.message}\nusage: ${mod.usage}`);
      return EXIT_USAGE;
    }
    // Bad input (a corrupt data file or checkpoint, a path that cannot be used, a bad
    // value): the message says what and where; a stack would only bury it.
    if (isExpectedError(e) || isFileSystemError(e)) {
      io.err(`cudnn-resnet ${entry.name}: ${e.message.split('\n').join('\n  ')}`);
      return EXIT_USAGE;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
