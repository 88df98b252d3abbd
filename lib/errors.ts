// The error shapes a user of the package sees (docs/errors.md states the rule). Bad
// arguments are TypeError (wrong kind of value) or RangeError (wrong value) with
//   .code      ERR_INVALID_ARG_TYPE | ERR_OUT_OF_RANGE | ERR_UNKNOWN_OPTION | ERR_ALIASED_ARGS
//   .op        the public function the user called ('Tensor.zeros', 'batchNorm', 'SGD')
//   .argument  the argument or option at fault ('shape[0]', 'runningVar', 'classes')
// and the message "<op>: argument '<argument>' <what>". Native code raises the same shape
// for everything about tensors; TypeScript raises it for what only TypeScript sees, and
// renames the op of a native error to the public function it ran under (asOp).
// Bad input files are InputFileError: .code, .file and, where known, .offset.

/** A bad argument, in the shape native errors have. */
export interface ArgumentError extends Error {
  code: string;
  op: string;
  argument: string;
}

type ArgErrorKind = 'type' | 'range';

/** A TypeError ('type') or RangeError ('range') naming op and argument, with a code. */
export function argError(kind: ArgErrorKind, op: string, argument: string, what: string, code?: string): ArgumentError {
  const e = (
    kind === 'type' ? new TypeError(`${op}: argument '${argument}' ${what}`) : new RangeError(`${op}: argument '${argument}' ${what}`)
  ) as ArgumentError;
  e.code = code ?? (kind === 'type' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE');
  e.op = op;
  e.argument = argument;
  return e;
}

/** Whether e is an argument error (from native code or from argError). */
export function isArgumentError(e: unknown): e is ArgumentError {
  return e instanceof Error && typeof (e as ArgumentError).code === 'string' && typeof (e as ArgumentError).op === 'string';
}

/**
 * Runs fn (which calls native ops) as the public function `op`: an argument error raised
 * inside under another op's name is renamed to `op`, so the user reads the name they called
 * ('Tensor.zeros', not the native 'full'). An error already naming a public op is left alone.
 */
export function asOp<T>(op: string, fn: () => T, argumentNames?: Record<string, string>): T {
  try {
    return fn();
  } catch (e) {
    throw renameOp(e, op, argumentNames);
  }
}

/** renameOp for one error: the body of asOp's catch, for callers with their own try. */
export function renameOp(e: unknown, op: string, argumentNames?: Record<string, string>): unknown {
  if (!isArgumentError(e) || e.op === op || !e.message.startsWith(`${e.op}: `)) return e;
  let rest = e.message.slice(e.op.length + 2);
  const renamed = argumentNames?.[e.argument.replace(/\[.*$/, '')];
  if (renamed !== undefined && rest.startsWith(`argument '${e.argument}'`)) {
    const argument = renamed + e.argument.slice(e.argument.replace(/\[.*$/, '').length);
    rest = `argument '${argument}'${rest.slice(`argument '${e.argument}'`.length)}`;
    e.argument = argument;
  }
  e.message = `${op}: ${rest}`;
  e.op = op;
  return e;
}

export type InputFileErrorCode =
  /** A checkpoint or safetensors file that breaks the format. */
  | 'ERR_INVALID_SAFETENSORS'
  /** A file the call needs does not exist or cannot be read. */
  | 'ERR_FILE_NOT_FOUND'
  /** A run folder's checkpoint that cannot be resumed (unreadable, inconsistent). */
  | 'ERR_INVALID_CHECKPOINT'
  /** A path that must be a folder (or absent) names something else. */
  | 'ERR_NOT_A_DIRECTORY';

/**
 * A file that cannot be used as given: wrong format, missing, inconsistent. The message
 * starts with the file (and the byte offset when one is known), so it reads alone on one line.
 */
export class InputFileError extends Error {
  readonly code: InputFileErrorCode;
  readonly file: string;
  readonly offset: number | undefined;

  constructor(code: InputFileErrorCode, file: string, offset: number | undefined, what: string, options?: { cause?: unknown }) {
    super(`${file}${offset === undefined ? '' : ` (byte offset ${offset})`}: ${what}`, options);
    this.name = 'InputFileError';
    this.code = code;
    this.file = file;
    this.offset = offset;
  }
}

/**
 * Whether e is an error the user can fix from its message alone (bad argument, bad file,
 * bad data), as opposed to a bug: the CLI prints these on one line without a stack.
 */
export function isExpectedError(e: unknown): e is Error & { code: string } {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) && code !== 'ERR_ASSERTION';
}
