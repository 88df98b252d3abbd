// Reading CIFAR-10/100 from the extracted folder or straight from the official .tar.gz:
// the archive is streamed through gunzip and tar-stream's extractor, and only the wanted
// members are kept (each validated as it arrives), so nothing is extracted to disk.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';

import { badArg, checkOptions, describe } from '../checks';
import { CifarFormatError } from './errors';
import {
  assemble,
  CifarFormat,
  CifarKind,
  checkFileSize,
  checkRecordSize,
  Dataset,
  formatOf,
  parseNames,
  parseRecordCounts,
  RecordCounts,
  RECORDS_FILE,
  Split,
  validateBatch,
} from './format';

export interface LoadOptions {
  /** 'train' (default) or 'test'. */
  split?: Split;
  /** CIFAR-100: which label becomes `labels` (default 'fine'). */
  labels?: 'fine' | 'coarse';
}

export type CifarSource = { container: 'folder'; path: string } | { container: 'archive'; path: string };

/**
 * Finds the dataset under `source`, which may be the batch folder itself, a folder holding
 * the batch folder or the archive (the folder wins), or the archive file.
 */
export function locateCifar(kind: CifarKind, source: string): CifarSource {
  const fmt = formatOf(kind, 'locateCifar');
  let st: fs.Stats;
  try {
    st = fs.statSync(source);
  } catch {
    throw new CifarFormatError('ERR_CIFAR_MISSING_FILE', source, undefined, `no such file or folder (looking for ${fmt.kind} data)`);
  }
  if (st.isFile()) return { container: 'archive', path: source };
  const holdsBatches = [...fmt.files.train, ...fmt.files.test].some((f) => fs.existsSync(path.join(source, f)));
  if (holdsBatches || path.basename(path.resolve(source)) === fmt.folder) return { container: 'folder', path: source };
  const inner = path.join(source, fmt.folder);
  if (fs.existsSync(inner)) return { container: 'folder', path: inner };
  const archive = path.join(source, fmt.archive);
  if (fs.existsSync(archive)) return { container: 'archive', path: archive };
  throw new CifarFormatError(
    'ERR_CIFAR_MISSING_FILE',
    source,
    undefined,
    `holds no ${fmt.kind} data: expected ${fmt.folder}/ (with ${fmt.files.train.join(', ')}, ${fmt.files.test.join(', ')}) or ${fmt.archive}`,
  );
}

function checkLoadOptions(kind: CifarKind, options: LoadOptions, fn: string, known: readonly string[]): 'fine' | 'coarse' {
  checkOptions(fn, options, known);
  const labelMode = options.labels ?? 'fine';
  if (labelMode !== 'fine' && labelMode !== 'coarse') throw badArg('type', `${fn}: labels`, `must be 'fine' or 'coarse', got ${describe(labelMode)}`);
  if (labelMode === 'coarse' && kind !== 'cifar100') throw badArg('range', `${fn}: labels`, `'coarse' needs CIFAR-100`);
  return labelMode;
}

/** Reads the batch files of `splits` (one pass over an archive) and assembles each split. */
async function loadSplits(kind: CifarKind, source: string, splits: Split[], labelMode: 'fine' | 'coarse'): Promise<Dataset[]> {
  const fmt = formatOf(kind);
  const src = locateCifar(kind, source);
  const files = splits.flatMap((s) => fmt.files[s]);
  const nameFiles = [fmt.namesFile, ...(fmt.coarseNamesFile ? [fmt.coarseNamesFile] : [])];
  const found = src.container === 'folder' ? await readFolder(src.path, fmt, files, nameFiles) : await readArchive(src.path, fmt, files, nameFiles);
  const text = (f: string | undefined): string | undefined => (f && found.names.has(f) ? found.names.get(f)!.toString('utf8') : undefined);
  const fineText = text(fmt.namesFile);
  const coarseText = text(fmt.coarseNamesFile);
  const names = {
    fine: fineText === undefined ? undefined : parseNames(fineText, fmt.classes),
    coarse: coarseText === undefined ? undefined : parseNames(coarseText, fmt.coarseClasses ?? 0),
  };
  return splits.map((s) =>
    assemble(
      fmt,
      s,
      fmt.files[s].map((f) => found.batches.get(f)!),
      src.path,
      labelMode,
      names,
    ),
  );
}

/** Loads one split of CIFAR-10 or CIFAR-100 from a folder or a .tar.gz (see locateCifar). */
export async function loadCifar(kind: CifarKind, source: string, options: LoadOptions = {}): Promise<Dataset> {
  formatOf(kind, 'loadCifar');
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') throw badArg('type', 'loadCifar: split', `must be 'train' or 'test', got ${describe(split)}`);
  const [ds] = await loadSplits(kind, source, [split], checkLoadOptions(kind, options, 'loadCifar', ['split', 'labels']));
  return ds;
}

/** Loads both splits, reading an archive once instead of twice. */
export async function loadCifarSplits(kind: CifarKind, source: string, options: Omit<LoadOptions, 'split'> = {}): Promise<{ train: Dataset; test: Dataset }> {
  formatOf(kind, 'loadCifarSplits');
  const [train, test] = await loadSplits(kind, source, ['train', 'test'], checkLoadOptions(kind, options, 'loadCifarSplits', ['labels']));
  return { train, test };
}

export function loadCifar10(source: string, split: Split = 'train'): Promise<Dataset> {
  return loadCifar('cifar10', source, { split });
}

export function loadCifar100(source: string, split: Split = 'train', labels: 'fine' | 'coarse' = 'fine'): Promise<Dataset> {
  return loadCifar('cifar100', source, { split, labels });
}

interface Found {
  batches: Map<string, Buffer>;
  names: Map<string, Buffer>;
}

async function readFolder(dir: string, fmt: CifarFormat, files: string[], nameFiles: string[]): Promise<Found> {
  const found: Found = { batches: new Map(), names: new Map() };
  const countsFile = path.join(dir, RECORDS_FILE);
  const counts: RecordCounts = fs.existsSync(countsFile)
    ? parseRecordCounts(countsFile, await fs.promises.readFile(countsFile, 'utf8'), fmt)
    : fmt.officialRecords;
  for (const f of files) {
    const file = path.join(dir, f);
    let size: number;
    try {
      size = (await fs.promises.stat(file)).size;
    } catch {
      throw new CifarFormatError('ERR_CIFAR_MISSING_FILE', file, undefined, `missing ${fmt.kind} batch file ${f}`);
    }
    checkFileSize(file, size, fmt, counts[f]); // before reading 30 MB of the wrong thing
    const buf = await fs.promises.readFile(file);
    validateBatch(file, buf, fmt, counts[f]);
    found.batches.set(f, buf);
  }
  for (const f of nameFiles) {
    const file = path.join(dir, f);
    if (fs.existsSync(file)) found.names.set(f, await fs.promises.readFile(file));
  }
  return found;
}

/** Reads the first bytes of a file (fewer if it is shorter). */
async function head(file: string, n: number): Promise<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

const NAME_FILE_LIMIT = 1 << 16;

async function readArchive(archive: string, fmt: CifarFormat, files: string[], nameFiles: string[]): Promise<Found> {
  const magic = await head(archive, 2);
  if (magic.length < 2 || magic[0] !== 0x1f || magic[1] !== 0x8b) {
    const seen = magic.length === 0 ? 'it is empty' : `it starts with ${[...magic].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`;
    throw new CifarFormatError('ERR_CIFAR_NOT_GZIP', archive, 0, `not a gzip file: expected the gzip magic bytes 1f 8b, but ${seen}`);
  }
  const wanted = new Set(files);
  const wantedNames = new Set(nameFiles);
  const found: Found = { batches: new Map(), names: new Map() };
  // Batch files are checked against the record counts once the stream ends: a records.json
  // (written before the batches) replaces the official counts.
  let counts: RecordCounts = fmt.officialRecords;
  const members = new Map<string, string>();

  return new Promise<Found>((resolve, reject) => {
    const input = fs.createReadStream(archive);
    const gunzip = zlib.createGunzip();
    const extract = tar.extract();
    let settled = false;
    let entries = 0; // headers tar-stream accepted
    let inflated = 0; // bytes out of gunzip, i.e. offset in the tar stream
    let current: { member: string; received: number; size: number } | null = null;

    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      input.destroy();
      gunzip.destroy();
      extract.destroy();
      reject(e);
    };
    const truncated = (cause: unknown): CifarFormatError =>
      current
        ? new CifarFormatError(
            'ERR_CIFAR_TRUNCATED',
            `${archive}:${current.member}`,
            current.received,
            `truncated archive: the stream ends after ${current.received} of the member's ${current.size} bytes`,
            { cause },
          )
        : new CifarFormatError(
            'ERR_CIFAR_TRUNCATED',
            archive,
            gunzip.bytesWritten,
            `truncated archive: the stream ends early (after ${inflated} uncompressed bytes)`,
            { cause },
          );

    input.on('error', (e) => fail(new CifarFormatError('ERR_CIFAR_MISSING_FILE', archive, undefined, `cannot read: ${e.message}`, { cause: e })));
    gunzip.on('data', (c: Buffer) => {
      inflated += c.length;
    });
    gunzip.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'Z_BUF_ERROR') fail(truncated(e));
      else fail(new CifarFormatError('ERR_CIFAR_NOT_GZIP', archive, gunzip.bytesWritten, `corrupt gzip data: ${e.message}`, { cause: e }));
    });
    extract.on('error', (e: Error) => {
      if (settled) return;
      // Before the first valid header, anything wrong means the data is not a tar at all.
      if (entries === 0) {
        fail(
          new CifarFormatError('ERR_CIFAR_NOT_TAR', archive, 0, `gzip data, but not a tar archive inside (${e.message}; ${inflated} uncompressed bytes)`, {
            cause: e,
          }),
        );
      } else if (/unexpected end/i.test(e.message)) {
        fail(truncated(e));
      } else {
        fail(new CifarFormatError('ERR_CIFAR_NOT_TAR', archive, inflated, `corrupt tar stream: ${e.message}`, { cause: e }));
      }
    });
    extract.on('entry', (header, stream, next) => {
      entries++;
      const base = path.posix.basename(header.name);
      const member = header.name;
      const isBatch = header.type === 'file' && wanted.has(base) && !found.batches.has(base);
      const isNames = header.type === 'file' && (wantedNames.has(base) || base === RECORDS_FILE) && (header.size ?? 0) <= NAME_FILE_LIMIT;
      if (!isBatch && !isNames) {
        stream.on('end', () => next());
        stream.resume();
        return;
      }
      const size = header.size ?? 0;
      if (isBatch) {
        try {
          checkRecordSize(`${archive}:${member}`, size, fmt);
        } catch (e) {
          fail(e as Error);
          return;
        }
      }
      const buf = Buffer.allocUnsafe(size);
      current = { member, received: 0, size };
      const cur = current;
      stream.on('data', (chunk: unknown) => {
        const c = chunk as Buffer;
        c.copy(buf, cur.received);
        cur.received += c.length;
      });
      stream.on('error', (e: Error) => fail(truncated(e)));
      stream.on('end', () => {
        current = null;
        if (isBatch) {
          found.batches.set(base, buf);
          members.set(base, member);
        } else if (base === RECORDS_FILE) {
          try {
            counts = parseRecordCounts(`${archive}:${member}`, buf.toString('utf8'), fmt);
          } catch (e) {
            fail(e as Error);
            return;
          }
        } else {
          found.names.set(base, buf);
        }
        next();
      });
    });
    extract.on('finish', () => {
      if (settled) return;
      if (entries === 0) {
        fail(new CifarFormatError('ERR_CIFAR_NOT_TAR', archive, 0, `gzip data, but not a tar archive inside (no entries in ${inflated} uncompressed bytes)`));
        return;
      }
      const missing = files.filter((f) => !found.batches.has(f));
      if (missing.length > 0) {
        fail(
          new CifarFormatError(
            'ERR_CIFAR_MISSING_FILE',
            archive,
            undefined,
            `missing ${fmt.kind} batch file ${missing.map((f) => `${fmt.folder}/${f}`).join(', ')} in the archive`,
          ),
        );
        return;
      }
      try {
        for (const [base, buf] of found.batches) validateBatch(`${archive}:${members.get(base)}`, buf, fmt, counts[base]);
      } catch (e) {
        fail(e as Error);
        return;
      }
      settled = true;
      resolve(found);
    });
    input.pipe(gunzip).pipe(extract as unknown as NodeJS.WritableStream);
  });
}
