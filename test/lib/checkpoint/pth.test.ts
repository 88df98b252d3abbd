import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import AdmZip from 'adm-zip';

import { noGrad } from '../../../lib/autograd';
import { decodePth, loadCheckpoint, RawTensor, rawToTensor, readPth, readWeightsFile, UnpicklingError } from '../../../lib/checkpoint';
import { create } from '../../../lib/models';
import { Tensor, tidy } from '../../../lib/tensor';
import { unpickle } from '../../../lib/checkpoint/pickle';
import { assertThrowsNamed } from '../../helpers/reference';
import { expectedLogits, fixture, fixtureInput, maxDiff } from './fixtures';

const UE = UnpicklingError as unknown as ErrorConstructor;

interface ViewSpec {
  dtype: string;
  shape: number[];
  values: number[];
}
const views: Record<string, ViewSpec> = JSON.parse(fs.readFileSync(fixture('views.json'), 'utf8'));
const FILE_DTYPE: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'U8' };

function valuesOf(r: { dtype: string; data: Uint8Array }): number[] {
  const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  const n = r.data.byteLength;
  const out: number[] = [];
  switch (r.dtype) {
    case 'F64':
      for (let i = 0; i < n; i += 8) out.push(dv.getFloat64(i, true));
      break;
    case 'I64':
      for (let i = 0; i < n; i += 8) out.push(Number(dv.getBigInt64(i, true)));
      break;
    case 'I32':
      for (let i = 0; i < n; i += 4) out.push(dv.getInt32(i, true));
      break;
    case 'U8':
      for (let i = 0; i < n; i++) out.push(dv.getUint8(i));
      break;
    default:
      throw new Error(`no host decoder for ${r.dtype}`);
  }
  return out;
}

/** Checks one tensor read from views.pth against views.json. */
function checkView(name: string, r: RawTensor): void {
  const want = views[name];
  assert.equal(r.dtype, FILE_DTYPE[want.dtype], `${name} dtype`);
  assert.deepEqual(r.shape, want.shape, `${name} shape`);
  if (r.dtype === 'F32' || r.dtype === 'F16' || r.dtype === 'BF16') {
    tidy(() => {
      const t = rawToTensor(name, r) as Tensor;
      assert.deepEqual(
        Array.from(t.dataSync()),
        want.values.map((v) => Math.fround(v)),
        name,
      );
    });
  } else {
    assert.deepEqual(valuesOf(r), want.values, name);
  }
}

function logitsFor(name: string, model: ReturnType<typeof create>): void {
  const e = expectedLogits(name);
  tidy(() => {
    const y = noGrad(() => model.eval().forward(fixtureInput(e.input_shape)));
    assert.deepEqual(y.shape, [e.input_shape[0], e.classes]);
    const { diff, scale } = maxDiff(y.dataSync(), e.logits.flat());
    // fp32 sums in a different order than PyTorch's, and the fp16 net's calibrated BNs amplify
    // that: ResNet-18 lands at 2-3e-4 of the logits' scale depending on the CPU convolution
    // kernel chosen. A wrongly loaded tensor moves logits by a sizeable fraction of the scale.
    assert.ok(diff <= 1e-3 * Math.max(1, scale), `${name}: logits differ by ${diff} (scale ${scale})`);
  });
}

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-pth-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Rewrites a fixture's archive entries (by their name inside the archive folder). */
function rewrite(src: string, edit: (name: string, data: Buffer) => Buffer | null, extra: Record<string, Buffer> = {}): string {
  const zin = new AdmZip(fixture(src));
  const zout = new AdmZip();
  let folder = '';
  for (const e of zin.getEntries()) {
    folder = e.entryName.split('/')[0];
    const out = edit(e.entryName.slice(folder.length + 1), e.getData());
    if (out) zout.addFile(e.entryName, out);
  }
  for (const [n, d] of Object.entries(extra)) zout.addFile(`${folder}/${n}`, d);
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}-${src}`);
  zout.writeZip(file);
  return file;
}

describe('PyTorch checkpoints (.pth)', () => {
  it('reads views of shared storages (offsets, steps, transposes, stride 0) and every dtype', () => {
    const f = readPth(fixture('views.pth'));
    assert.deepEqual([...f.tensors.keys()], Object.keys(views));
    for (const [k, r] of f.tensors) checkView(k, r);
    assert.equal(f.metadata.format, 'pytorch');
  });

  it('reads big-endian archives (byteorder "big")', () => {
    const types = readStorageTypes();
    const file = rewrite(
      'views.pth',
      (name, data) => {
        if (name === 'byteorder') return null;
        const m = /^data\/(.+)$/.exec(name);
        if (!m) return data;
        const size = types.get(m[1])!;
        const out = Buffer.from(data);
        for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
        return out;
      },
      { byteorder: Buffer.from('big') },
    );
    const f = readPth(file);
    for (const [k, r] of f.tensors) checkView(k, r);
  });

  it("loads a CIFAR ResNet-8 state dict and reproduces PyTorch's logits", () => {
    const m = create('resnet8', { weights: fixture('resnet8.pth'), seed: 1 });
    try {
      logitsFor('resnet8', m);
    } finally {
      m.dispose();
    }
  });

  it('unwraps {"state_dict": ...} with DataParallel\'s "module." prefix (bf16 tensors)', () => {
    const f = readWeightsFile(fixture('resnet8-legacy.pth'));
    assert.equal(f.metadata['pytorch.state_dict_key'], 'state_dict');
    assert.equal(f.metadata['pytorch.stripped_prefix'], 'module.');
    assert.equal(f.tensors.get('conv1.weight')!.dtype, 'BF16');
    const m = create('resnet8', { seed: 2 });
    try {
      loadCheckpoint(fixture('resnet8-legacy.pth'), m);
      logitsFor('resnet8-legacy', m);
    } finally {
      m.dispose();
    }
  });

  it('finds a state dict kept under "model" next to plain values', () => {
    const f = readPth(fixture('wrapped-model.pth'));
    assert.equal(f.metadata['pytorch.state_dict_key'], 'model');
    assert.deepEqual([...f.tensors.keys()], ['w', 'b']);
    tidy(() => assert.deepEqual(Array.from((rawToTensor('w', f.tensors.get('w')!) as Tensor).dataSync()), [0, 1, 2, 3, 4, 5]));
  });

  it('loads torchvision resnet18 (fp16, strided views of one shared storage), taking classes from the file', () => {
    const m = create('resnet18', { weights: fixture('resnet18-fp16.pth'), seed: 3 });
    try {
      assert.equal(m.classes, 10);
      logitsFor('resnet18-fp16', m);
    } finally {
      m.dispose();
    }
  });

  it('with other classes loads every tensor but fc and initialises a new head, saying so', () => {
    const messages: string[] = [];
    const m = create('resnet8', { weights: fixture('resnet8.pth'), classes: 3, seed: 4, onMessage: (s) => messages.push(s) });
    try {
      assert.equal(messages.length, 1);
      assert.match(messages[0], /fc is newly initialised/);
      assert.match(messages[0], /10 classes/);
      assert.deepEqual(m.fc.weight.shape, [3, 64]);
      const f = readPth(fixture('resnet8.pth'));
      tidy(() => {
        const want = rawToTensor('layer3.0.conv2.weight', f.tensors.get('layer3.0.conv2.weight')!) as Tensor;
        const mine = m.stateDict().get('layer3.0.conv2.weight') as Tensor;
        assert.deepEqual(Array.from(mine.dataSync()), Array.from(want.dataSync()));
        // The new head is torchvision's uniform init: inside +-1/sqrt(64), not all equal.
        const w = m.fc.weight.dataSync();
        assert.ok(w.every((v) => Math.abs(v) <= 1 / 8));
        assert.ok(new Set(w).size > w.length / 2);
      });
    } finally {
      m.dispose();
    }
  });

  it('refuses a pickle that would run a command, without running it', () => {
    // The payload writes malicious-ran.txt into the working folder, wherever that is.
    const marker = path.join(process.cwd(), 'malicious-ran.txt');
    assertThrowsNamed(() => readPth(fixture('malicious.pth')), UE, "refusing global 'posix.system'");
    const m = create('resnet8', { seed: 5 });
    try {
      assertThrowsNamed(() => loadCheckpoint(fixture('malicious.pth'), m), UE, 'posix.system');
    } finally {
      m.dispose();
    }
    assert.equal(fs.existsSync(marker), false);
  });

  it('names sparse and quantized tensors in its errors', () => {
    assertThrowsNamed(() => readPth(fixture('sparse.pth')), UE, 'sparse tensors are not supported');
    assertThrowsNamed(() => readPth(fixture('quantized.pth')), UE, 'quantized tensors are not supported');
  });

  it('reads the pre-1.6 (non-zip) format: the same views and dtypes', () => {
    const f = readWeightsFile(fixture('views-legacy.pth'));
    assert.equal(f.metadata['pytorch.format'], 'legacy');
    assert.deepEqual([...f.tensors.keys()], Object.keys(views));
    for (const [k, r] of f.tensors) checkView(k, r);
    const buf = fs.readFileSync(fixture('views-legacy.pth'));
    assertThrowsNamed(() => decodePth(buf.subarray(0, buf.length - 3), 'cut.pth'), RangeError, 'cut.pth', 'truncated');
    // A pickle of the number 7, not torch.save's magic number.
    assertThrowsNamed(() => decodePth(Buffer.from([0x80, 2, 0x4b, 7, 0x2e]), 'seven.pth'), RangeError, 'magic number');
    // The header pickles of the format, then a data pickle calling posix.system: refused by name.
    const magic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
    const version = [0x80, 2, 0x4d, 0xe9, 0x03, 0x2e];
    const sys = [0x80, 2, 0x7d, 0x8c, 13, ...Buffer.from('little_endian'), 0x88, 0x73, 0x2e];
    const evil = [0x80, 2, 0x63, ...Buffer.from('posix\nsystem\n'), 0x8c, 4, ...Buffer.from('true'), 0x85, 0x52, 0x2e];
    assertThrowsNamed(() => decodePth(Buffer.from([...magic, ...version, ...sys, ...evil]), 'evil.pth'), UE, "refusing global 'posix.system'");
  });

  it('fails clearly on a storage too small for its tensor, a missing storage or a non-archive', () => {
    const short = rewrite('resnet8.pth', (name, data) => (name.startsWith('data/') ? data.subarray(0, 8) : data));
    assertThrowsNamed(() => readPth(short), RangeError, 'reaches element');
    const missing = rewrite('resnet8.pth', (name, data) => (name === 'data/0' ? null : data));
    assertThrowsNamed(() => readPth(missing), RangeError, "no entry '");
    assertThrowsNamed(() => decodePth(Buffer.from('not a zip at all'), 'x.pth'), RangeError, 'x.pth', 'not a PyTorch checkpoint');
    const noPickle = rewrite('resnet8.pth', (name, data) => (name === 'data.pkl' ? null : data));
    assertThrowsNamed(() => readPth(noPickle), RangeError, 'data.pkl');
  });

  it('lists missing and unexpected keys against the model', () => {
    const m = create('resnet20', { seed: 6 });
    try {
      assertThrowsNamed(() => loadCheckpoint(fixture('resnet8.pth'), m), RangeError, 'missing tensors', 'layer1.1.conv1.weight');
    } finally {
      m.dispose();
    }
    assertThrowsNamed(() => create('resnet8', { weights: 42 as unknown as string }), TypeError, 'weights');
  });
});

/** Storage key -> element size, from the pickle's persistent ids (via the reader itself). */
function readStorageTypes(): Map<string, number> {
  const sizes: Record<string, number> = {
    FloatStorage: 4,
    HalfStorage: 2,
    BFloat16Storage: 2,
    DoubleStorage: 8,
    LongStorage: 8,
    IntStorage: 4,
    ByteStorage: 1,
  };
  const zip = new AdmZip(fixture('views.pth'));
  const pkl = zip.getEntries().find((e) => e.entryName.endsWith('/data.pkl'))!;
  const root = unpickle(pkl.getData()) as Map<string, { storage: { key: string; type: string } }>;
  const out = new Map<string, number>();
  for (const t of root.values()) out.set(t.storage.key, sizes[t.storage.type]);
  return out;
}
