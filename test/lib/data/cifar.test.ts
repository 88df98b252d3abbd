// CIFAR readers: write-then-read round trips (both datasets, both containers, every way of
// naming the source) and one test per corrupted input, each expecting its own error code,
// the file (or archive member) and the byte offset.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import {
  CIFAR10,
  CIFAR100,
  CifarFormatError,
  Dataset,
  encodeRecords,
  loadCifar,
  loadCifar10,
  loadCifar100,
  loadCifarSplits,
  syntheticDataset,
  writeSyntheticCifar,
  writeTarGz,
} from '../../../lib/data';

async function rejectsWith(p: Promise<unknown>, code: string, ...fragments: string[]): Promise<CifarFormatError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof CifarFormatError,
    `expected a CifarFormatError ${code}, got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`,
  );
  assert.equal(caught.code, code, caught.message);
  for (const f of fragments) assert.ok(caught.message.includes(f), `message "${caught.message}" lacks "${f}"`);
  return caught;
}

function sameData(a: Dataset, b: Dataset): void {
  assert.equal(a.count, b.count);
  assert.ok(a.images.equals(b.images), 'images differ');
  assert.deepEqual(Array.from(a.labels), Array.from(b.labels));
}

describe('data: CIFAR readers', function () {
  this.timeout(30000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-cifar-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const dir = (name: string): string => path.join(tmp, name);

  describe('round trips', () => {
    it('CIFAR-10: folder and .tar.gz give back exactly what was written', async () => {
      const w = await writeSyntheticCifar(dir('c10'), { container: 'both', train: 103, test: 21, seed: 7 });
      const train = syntheticDataset({ split: 'train', count: 103, seed: 7 });
      const test = syntheticDataset({ split: 'test', count: 21, seed: 7 });
      // 103 images over five batch files: 21, 21, 21, 20, 20 records.
      const sizes = CIFAR10.files.train.map((f) => fs.statSync(path.join(w.folder!, f)).size / CIFAR10.recordBytes);
      assert.deepEqual(sizes, [21, 21, 21, 20, 20]);
      for (const src of [w.folder!, w.archive!]) {
        const tr = await loadCifar10(src, 'train');
        const te = await loadCifar10(src, 'test');
        sameData(tr, train);
        sameData(te, test);
        assert.equal(tr.kind, 'cifar10');
        assert.equal(tr.classes, 10);
        assert.equal(tr.images.length, 103 * 3072);
        assert.deepEqual(tr.classNames, train.classNames); // read from batches.meta.txt
        assert.equal(tr.classNames[0], 'disc_red');
        assert.equal(tr.source, src);
        const both = await loadCifarSplits('cifar10', src);
        sameData(both.train, train);
        sameData(both.test, test);
        assert.equal(both.test.split, 'test');
      }
    });

    it('CIFAR-100: fine and coarse labels from folder and .tar.gz', async () => {
      const w = await writeSyntheticCifar(dir('c100'), { kind: 'cifar100', container: 'both', train: 230, test: 40, seed: 3 });
      const train = syntheticDataset({ kind: 'cifar100', split: 'train', count: 230, seed: 3 });
      for (const src of [w.folder!, w.archive!]) {
        const fine = await loadCifar100(src, 'train');
        sameData(fine, train);
        assert.equal(fine.classes, 100);
        assert.equal(fine.classNames.length, 100);
        const coarse = await loadCifar100(src, 'train', 'coarse');
        assert.equal(coarse.classes, 20);
        assert.equal(coarse.classNames.length, 20);
        assert.deepEqual(
          Array.from(coarse.labels),
          Array.from(train.labels, (f) => Math.floor(f / 5)),
        );
        assert.deepEqual(Array.from(coarse.fineLabels!), Array.from(train.labels));
        assert.ok(coarse.images.equals(train.images));
        assert.equal((await loadCifar100(src, 'test')).count, 40);
        const both = await loadCifarSplits('cifar100', src, { labels: 'coarse' });
        assert.deepEqual(Array.from(both.train.labels), Array.from(coarse.labels));
        assert.equal(both.test.count, 40);
      }
      // Every fine class appears (the synthetic split is class-balanced).
      assert.equal(new Set(train.labels).size, 100);
    });

    it('finds the data from the parent folder, the batch folder or the archive; the folder wins', async () => {
      const w = await writeSyntheticCifar(dir('both'), { container: 'both', train: 10, test: 5, seed: 1 });
      assert.equal((await loadCifar10(dir('both'))).source, w.folder);
      assert.equal((await loadCifar10(w.folder!)).source, w.folder);
      await writeSyntheticCifar(dir('onlyarchive'), { container: 'archive', train: 10, test: 5, seed: 1 });
      const a = await loadCifar10(dir('onlyarchive'));
      assert.equal(a.source, path.join(dir('onlyarchive'), CIFAR10.archive));
      sameData(a, await loadCifar10(dir('both')));
    });

    it('is deterministic by seed: same seed, byte-identical files; another seed, other images', async () => {
      const a = await writeSyntheticCifar(dir('seedA'), { container: 'archive', train: 20, test: 5, seed: 11 });
      const b = await writeSyntheticCifar(dir('seedB'), { container: 'archive', train: 20, test: 5, seed: 11 });
      const c = await writeSyntheticCifar(dir('seedC'), { container: 'archive', train: 20, test: 5, seed: 12 });
      assert.ok(fs.readFileSync(a.archive!).equals(fs.readFileSync(b.archive!)));
      assert.ok(!fs.readFileSync(a.archive!).equals(fs.readFileSync(c.archive!)));
    });

    it('uses the built-in class names when the names file is absent', async () => {
      const w = await writeSyntheticCifar(dir('nonames'), { kind: 'cifar100', train: 10, test: 5 });
      fs.rmSync(path.join(w.folder!, CIFAR100.namesFile));
      const ds = await loadCifar100(w.folder!);
      assert.equal(ds.classNames[0], 'apple');
      assert.equal(ds.classNames[99], 'worm');
    });
  });

  describe('corrupted inputs', () => {
    let clean10: string, clean100: string;
    before(async () => {
      clean10 = (await writeSyntheticCifar(dir('clean10'), { train: 50, test: 10, seed: 2 })).folder!;
      clean100 = (await writeSyntheticCifar(dir('clean100'), { kind: 'cifar100', train: 30, test: 10, seed: 2 })).folder!;
    });
    const copy = (from: string, name: string): string => {
      const to = path.join(dir(name), path.basename(from));
      fs.cpSync(from, to, { recursive: true });
      return to;
    };
    const archiveOf = async (name: string, folder: string, files: Map<string, Buffer>): Promise<string> => {
      fs.mkdirSync(dir(name), { recursive: true });
      const file = path.join(dir(name), CIFAR10.archive);
      await writeTarGz(file, folder, files);
      return file;
    };
    const folderFiles = (folder: string): Map<string, Buffer> => new Map(fs.readdirSync(folder).map((f) => [f, fs.readFileSync(path.join(folder, f))]));

    it('truncated batch file: names the file and where the partial record starts', async () => {
      const f = copy(clean10, 'trunc');
      const file = path.join(f, 'data_batch_3.bin');
      const size = fs.statSync(file).size; // 10 records
      fs.truncateSync(file, size - 100);
      const e = await rejectsWith(loadCifar10(f), 'ERR_CIFAR_TRUNCATED', 'data_batch_3.bin', 'truncated: the file ends', 'record 9', `byte offset ${9 * 3073}`);
      assert.equal(e.file, file);
      assert.equal(e.offset, 9 * 3073);
      fs.truncateSync(file, 0);
      await rejectsWith(loadCifar10(f), 'ERR_CIFAR_TRUNCATED', 'data_batch_3.bin', 'empty');
    });

    it('extra bytes are called extra bytes, with the offset where they start', async () => {
      const f = copy(clean10, 'extra');
      const file = path.join(f, 'data_batch_2.bin');
      fs.appendFileSync(file, Buffer.alloc(1000, 7)); // 10 records + 1000 bytes
      const e = await rejectsWith(
        loadCifar10(f),
        'ERR_CIFAR_EXTRA_BYTES',
        'data_batch_2.bin',
        '1000 extra bytes after the last record',
        `byte offset ${10 * 3073}`,
        'must hold 10 records',
      );
      assert.equal(e.offset, 10 * 3073);
      assert.ok(!/truncated/.test(e.message), e.message);
    });

    it('a file cut at a record boundary is truncated: official counts, or those records.json declares', async () => {
      // The official test batch holds 10000 records; 1700 whole records are not a dataset.
      const official = dir('official');
      fs.mkdirSync(official);
      fs.writeFileSync(path.join(official, 'test_batch.bin'), Buffer.alloc(1700 * 3073));
      const e = await rejectsWith(
        loadCifar10(official, 'test'),
        'ERR_CIFAR_TRUNCATED',
        'test_batch.bin',
        'truncated at a record boundary',
        'holds 1700 of its 10000 records',
        `byte offset ${1700 * 3073}`,
      );
      assert.equal(e.offset, 1700 * 3073);
      // A synthetic set declares its own counts; one cut at a boundary, in a folder and in an archive.
      const f = copy(clean10, 'boundary');
      const file = path.join(f, 'data_batch_4.bin');
      fs.truncateSync(file, 7 * 3073);
      await rejectsWith(loadCifar10(f), 'ERR_CIFAR_TRUNCATED', 'data_batch_4.bin', 'holds 7 of its 10 records');
      const archive = await archiveOf('boundaryzip', CIFAR10.folder, folderFiles(f));
      await rejectsWith(loadCifar10(archive), 'ERR_CIFAR_TRUNCATED', `${archive}:cifar-10-batches-bin/data_batch_4.bin`, 'holds 7 of its 10 records');
      // records.json must be what it says.
      fs.writeFileSync(path.join(f, 'records.json'), JSON.stringify({ 'data_batch_9.bin': 3 }));
      await rejectsWith(loadCifar10(f), 'ERR_CIFAR_RECORDS_FILE', 'records.json', 'data_batch_9.bin');
      fs.writeFileSync(path.join(f, 'records.json'), JSON.stringify({ 'data_batch_1.bin': -3 }));
      await rejectsWith(loadCifar10(f), 'ERR_CIFAR_RECORDS_FILE', 'records.json', 'positive integer');
    });

    it('truncated archive: the gzip stream ends early', async () => {
      const w = await writeSyntheticCifar(dir('trunczip'), { container: 'archive', train: 50, test: 10, seed: 2 });
      const bytes = fs.readFileSync(w.archive!);
      fs.writeFileSync(w.archive!, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
      const e = await rejectsWith(loadCifar10(w.archive!), 'ERR_CIFAR_TRUNCATED', CIFAR10.archive, 'truncated archive');
      assert.ok(e.file.startsWith(w.archive!));
    });

    it('record size that does not divide: CIFAR-100 records read as CIFAR-10, and the reverse', async () => {
      const f = copy(clean10, 'recsize10');
      const c100 = fs.readFileSync(path.join(clean100, 'train.bin')); // 30 records of 3074 bytes
      fs.writeFileSync(path.join(f, 'data_batch_2.bin'), c100);
      const e = await rejectsWith(loadCifar10(f), 'ERR_CIFAR_RECORD_SIZE', 'data_batch_2.bin', '3073', '3074', 'cifar100');
      assert.equal(e.offset, c100.length - (c100.length % 3073));
      const g = copy(clean100, 'recsize100');
      fs.writeFileSync(path.join(g, 'test.bin'), fs.readFileSync(path.join(clean10, 'test_batch.bin')));
      await rejectsWith(loadCifar100(g, 'test'), 'ERR_CIFAR_RECORD_SIZE', 'test.bin', '3074', 'cifar10');
      // The same inside an archive, caught from the member's tar header before its data is read.
      const files = folderFiles(clean10);
      files.set('data_batch_5.bin', c100);
      const archive = await archiveOf('recsizetar', CIFAR10.folder, files);
      await rejectsWith(loadCifar10(archive), 'ERR_CIFAR_RECORD_SIZE', `${archive}:cifar-10-batches-bin/data_batch_5.bin`);
    });

    it('missing batch file: in the folder, in the archive, and no data at all', async () => {
      const f = copy(clean10, 'missing');
      fs.rmSync(path.join(f, 'data_batch_4.bin'));
      const e = await rejectsWith(loadCifar10(f), 'ERR_CIFAR_MISSING_FILE', 'data_batch_4.bin');
      assert.equal(e.file, path.join(f, 'data_batch_4.bin'));
      await loadCifar10(f, 'test'); // the test split does not need it
      const files = folderFiles(clean10);
      files.delete('data_batch_1.bin');
      const archive = await archiveOf('missingtar', CIFAR10.folder, files);
      await rejectsWith(loadCifar10(archive), 'ERR_CIFAR_MISSING_FILE', archive, 'cifar-10-batches-bin/data_batch_1.bin');
      fs.mkdirSync(dir('empty'));
      await rejectsWith(loadCifar10(dir('empty')), 'ERR_CIFAR_MISSING_FILE', dir('empty'), CIFAR10.folder, CIFAR10.archive);
      await rejectsWith(loadCifar100(dir('does-not-exist')), 'ERR_CIFAR_MISSING_FILE', 'does-not-exist');
    });

    it('label out of range: CIFAR-10 label, CIFAR-100 coarse and fine labels, inside an archive', async () => {
      const f = copy(clean10, 'label10');
      const file = path.join(f, 'data_batch_2.bin');
      const bytes = fs.readFileSync(file);
      bytes[7 * 3073] = 10;
      fs.writeFileSync(file, bytes);
      const e = await rejectsWith(loadCifar10(f), 'ERR_CIFAR_LABEL_RANGE', 'data_batch_2.bin', 'record 7', 'label 10', '[0, 9]');
      assert.equal(e.offset, 7 * 3073);

      const g = copy(clean100, 'label100');
      const tfile = path.join(g, 'train.bin');
      const b100 = fs.readFileSync(tfile);
      b100[3 * 3074 + 1] = 100;
      fs.writeFileSync(tfile, b100);
      const e2 = await rejectsWith(loadCifar100(g), 'ERR_CIFAR_LABEL_RANGE', 'train.bin', 'record 3', 'fine label 100');
      assert.equal(e2.offset, 3 * 3074 + 1);
      b100[3 * 3074 + 1] = 99;
      b100[5 * 3074] = 20;
      fs.writeFileSync(tfile, b100);
      await rejectsWith(loadCifar100(g), 'ERR_CIFAR_LABEL_RANGE', 'record 5', 'coarse label 20', '[0, 19]');

      const files = folderFiles(clean10);
      const test = Buffer.from(files.get('test_batch.bin')!);
      test[2 * 3073] = 255;
      files.set('test_batch.bin', test);
      const archive = await archiveOf('labeltar', CIFAR10.folder, files);
      const e3 = await rejectsWith(loadCifar10(archive, 'test'), 'ERR_CIFAR_LABEL_RANGE', 'cifar-10-batches-bin/test_batch.bin', 'label 255');
      assert.equal(e3.offset, 2 * 3073);
    });

    it('not gzip: plain text, an uncompressed tar, corrupt deflate data after the magic bytes', async () => {
      fs.mkdirSync(dir('notgz'));
      const text = path.join(dir('notgz'), 'text.tar.gz');
      fs.writeFileSync(text, 'this is not an archive\n');
      const e = await rejectsWith(loadCifar10(text), 'ERR_CIFAR_NOT_GZIP', text, '1f 8b', '74 68');
      assert.equal(e.offset, 0);
      const plainTar = path.join(dir('notgz'), 'plain.tar.gz');
      const tarBytes = zlib.gunzipSync(fs.readFileSync(await archiveOf('forplain', CIFAR10.folder, folderFiles(clean10))));
      fs.writeFileSync(plainTar, tarBytes);
      await rejectsWith(loadCifar10(plainTar), 'ERR_CIFAR_NOT_GZIP', 'plain.tar.gz');
      const bad = path.join(dir('notgz'), 'corrupt.tar.gz');
      fs.writeFileSync(bad, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(64, 0xff)]));
      await rejectsWith(loadCifar10(bad), 'ERR_CIFAR_NOT_GZIP', 'corrupt gzip');
      const empty = path.join(dir('notgz'), 'empty.tar.gz');
      fs.writeFileSync(empty, '');
      await rejectsWith(loadCifar10(empty), 'ERR_CIFAR_NOT_GZIP', 'empty');
    });

    it('not tar: gzip of raw records, of a short text, of nothing', async () => {
      fs.mkdirSync(dir('nottar'));
      const raw = path.join(dir('nottar'), 'raw.tar.gz');
      fs.writeFileSync(raw, zlib.gzipSync(fs.readFileSync(path.join(clean10, 'data_batch_1.bin'))));
      await rejectsWith(loadCifar10(raw), 'ERR_CIFAR_NOT_TAR', 'raw.tar.gz', 'not a tar');
      const short = path.join(dir('nottar'), 'short.tar.gz');
      fs.writeFileSync(short, zlib.gzipSync('hello'));
      await rejectsWith(loadCifar10(short), 'ERR_CIFAR_NOT_TAR', 'short.tar.gz');
      const nothing = path.join(dir('nottar'), 'nothing.tar.gz');
      fs.writeFileSync(nothing, zlib.gzipSync(Buffer.alloc(0)));
      await rejectsWith(loadCifar10(nothing), 'ERR_CIFAR_NOT_TAR', 'nothing.tar.gz');
    });

    it('bad options are TypeErrors naming the option', async () => {
      await assert.rejects(loadCifar('cifar10', clean10, { split: 'val' as 'test' }), (e: Error) => e instanceof TypeError && e.message.includes("'split'"));
      await assert.rejects(loadCifar('cifar10', clean10, { labels: 'coarse' }), {
        name: 'RangeError',
        code: 'ERR_OUT_OF_RANGE',
        op: 'loadCifar',
        argument: 'labels',
      });
      await assert.rejects(loadCifar('cifar1000' as 'cifar10', clean10), {
        name: 'TypeError',
        code: 'ERR_INVALID_ARG_TYPE',
        op: 'loadCifar',
        argument: 'kind',
      });
    });
  });

  it('encodeRecords writes the official record layout', () => {
    const ds = syntheticDataset({ kind: 'cifar100', count: 3, seed: 9 });
    const rec = encodeRecords(ds);
    assert.equal(rec.length, 3 * 3074);
    for (let i = 0; i < 3; i++) {
      assert.equal(rec[i * 3074], Math.floor(ds.labels[i] / 5));
      assert.equal(rec[i * 3074 + 1], ds.labels[i]);
      assert.ok(rec.subarray(i * 3074 + 2, (i + 1) * 3074).equals(ds.images.subarray(i * 3072, (i + 1) * 3072)));
    }
  });
});
