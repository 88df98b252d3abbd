// The one error type the CIFAR readers throw. Each carries a stable code, the file (or
// archive member) it concerns and, where one exists, the byte offset of the problem, so a
// caller can tell a truncated download from the wrong dataset without parsing messages.

export type CifarErrorCode =
  /** The file holds fewer records than it must (ends inside a record or at a record boundary), is empty, or the archive stream ends early. */
  | 'ERR_CIFAR_TRUNCATED'
  /** The file holds bytes after the records it must hold. */
  | 'ERR_CIFAR_EXTRA_BYTES'
  /** records.json (the record counts of a non-official set) is not a map of batch file names to counts. */
  | 'ERR_CIFAR_RECORDS_FILE'
  /** The file holds whole records of another CIFAR variant's size, not this one's. */
  | 'ERR_CIFAR_RECORD_SIZE'
  /** A batch file (or the dataset itself) is not where it must be. */
  | 'ERR_CIFAR_MISSING_FILE'
  /** A label byte is not below the class count. */
  | 'ERR_CIFAR_LABEL_RANGE'
  /** The archive is not gzip data. */
  | 'ERR_CIFAR_NOT_GZIP'
  /** The archive decompresses, but not to a tar stream. */
  | 'ERR_CIFAR_NOT_TAR';

export class CifarFormatError extends Error {
  readonly code: CifarErrorCode;
  /** The file path, or `archive.tar.gz:member/path` for a member of an archive. */
  readonly file: string;
  /** Byte offset of the problem within `file` (for an archive, see the message), if any. */
  readonly offset: number | undefined;

  constructor(code: CifarErrorCode, file: string, offset: number | undefined, what: string, options?: { cause?: unknown }) {
    super(`${file}${offset === undefined ? '' : ` (byte offset ${offset})`}: ${what}`, options);
    this.name = 'CifarFormatError';
    this.code = code;
    this.file = file;
    this.offset = offset;
  }
}
