// The `cudnn-resnet` command: a dispatcher over subcommands. Each subcommand is a module
// loaded only when it runs, so `--version`, `--help` and a usage error never load the addon.
// Adding one is a single line in COMMANDS; the module exports `usage` and `run`.
import { CliIO, CommandModule, EXIT_USAGE, packageVersion, UsageError } from './args';

import { isExpectedError } from '../errors';

export type { CliIO, CommandModule } from './args';
export { EXIT_USAGE, UsageError } from './args';

interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<CommandModule>;
}

// Register a subcommand here: name, one-line summary, lazy import.
const COMMANDS: CommandEntry[] = [
  { name: 'doctor', summary: 'check the platform, addon build, GPU, driver, CUDA runtime and cuDNN', load: () => import('./doctor') },
  { name: 'train', summary: 'train a ResNet on CIFAR-10/100 or synthetic data (no arguments: a short demo)', load: () => import('./train') },
  { name: 'predict', summary: 'the top-k classes of images, from a trained run or a weights file', load: () => import('./predict') },
  { name: 'eval', summary: 'top-1/top-5 error, per-class accuracy and confusion matrix on labelled images', load: () => import('./eval') },
  { name: 'convert', summary: 'rewrite a PyTorch .pth/.pt state dict as safetensors', load: () => import('./convert') },
  { name: 'grad-flow', summary: 'per-layer gradient norms of plain vs residual nets: table, JSON, SVG', load: () => import('./grad-flow') },
  { name: 'degradation', summary: "plain vs ResNet training/test error against iterations (the paper's Figure 6)", load: () => import('./degradation') },
];

const stdio: CliIO = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

// A failed file operation (ENOENT, EACCES, ENOTDIR...): Node's message names the call and path.
function isFileSystemError(e: unknown): e is Error {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).path === 'string' && /^E[A-Z]+$/.test(String((e as NodeJS.ErrnoException).code));
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
    // The error goes last, below the usage, where the eye lands.
    io.err(`${mainUsage()}\n\ncudnn-resnet: ${first.startsWith('-') ? 'unknown option' : 'unknown command'} '${first}'`);
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
      // A short usage, then the error as the last line (the full option list would scroll it away).
      io.err(`usage: ${mod.usage.split('\n')[0]}   (\`cudnn-resnet ${entry.name} --help\` lists the options)\n` + `cudnn-resnet ${entry.name}: ${e.message}`);
      return EXIT_USAGE;
    }
    // Bad input (a corrupt data file or checkpoint, a path that cannot be used): the user's
    // to fix, not a bug, so the message says what and where, without a stack; exit 1 (a bad
    // command line is exit 2).
    if (isExpectedError(e) || isFileSystemError(e)) {
      io.err(`cudnn-resnet ${entry.name}: ${e.message.split('\n').join('\n  ')}`);
      return 1;
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
