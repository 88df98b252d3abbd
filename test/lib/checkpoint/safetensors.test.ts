import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { backward, softmaxCrossEntropy } from '../../../lib/autograd';
import {
  decodeSafetensors,
  encodeSafetensors,
  loadCheckpoint,
  loadSafetensors,
  readSafetensors,
  saveCheckpoint,
  saveSafetensors,
} from '../../../lib/checkpoint';
import { cifarResNet } from '../../../lib/models';
import { SGD } from '../../../lib/optim';
import { Tensor, tidy } from '../../../lib/tensor';
import { assertThrowsNamed } from '../../helpers/reference';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-ckpt-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('safetensors', () => {
  it('writes the documented layout byte for byte', () => {
    const file = path.join(dir, 'exact.safetensors');
    tidy(() => {
      saveSafetensors(
        file,
        [
          ['w', Tensor.fromArray([1.5, -2], [2, 1])],
          ['n', 7n],
          ['i', Tensor.fromArray(Int32Array.from([1, -1, 2]), [3])],
        ],
        { format: 'x' },
      );
    });
    // Built by hand from the format: u64 LE header length, JSON header padded with spaces to
    // a multiple of 8, then the data in header order.
    let header =
      '{"__metadata__":{"format":"x"},' +
      '"w":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},' +
      '"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]},' +
      '"i":{"dtype":"I32","shape":[3],"data_offsets":[16,28]}}';
    while (header.length % 8 !== 0) header += ' ';
    const len = header.length;
    const expected = Buffer.concat([
      Buffer.from([len & 0xff, (len >> 8) & 0xff, 0, 0, 0, 0, 0, 0]),
      Buffer.from(header, 'ascii'),
      Buffer.from([0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0]), // 1.5f, -2.0f
      Buffer.from([0x07, 0, 0, 0, 0, 0, 0, 0]), // int64 7
      Buffer.from([0x01, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0]), // int32 1, -1, 2
    ]);
    assert.deepEqual(fs.readFileSync(file), expected);
    assert.deepEqual(
      fs.readdirSync(dir).filter((f) => f.includes('.tmp')),
      [],
      'no temporary file is left',
    );
  });

  it('round-trips dtypes and layouts (values in logical order)', () => {
    const file = path.join(dir, 'rt.safetensors');
    tidy(() => {
      const vals = Array.from({ length: 24 }, (_, i) => (i - 12) / 4);
      saveSafetensors(file, [
        ['nhwc', Tensor.fromArray(vals, [2, 3, 2, 2], { layout: 'NHWC' })],
        ['bf16', Tensor.fromArray(vals, [24], { dtype: 'bfloat16' })],
        ['f16', Tensor.fromArray([0.5, -65504, 6e-8, 1e-5], [4], { dtype: 'float16' })],
        ['u8', Tensor.fromArray(Uint8Array.from([0, 255, 7]), [3])],
      ]);
      const f = readSafetensors(file);
      assert.deepEqual([...f.tensors.keys()], ['nhwc', 'bf16', 'f16', 'u8']);
      assert.deepEqual(f.tensors.get('bf16')!.dtype, 'BF16');
      assert.deepEqual(f.tensors.get('nhwc')!.shape, [2, 3, 2, 2]);
      const { tensors } = loadSafetensors(file);
      assert.deepEqual(Array.from((tensors.get('nhwc') as Tensor).dataSync()), vals);
      assert.deepEqual(Array.from((tensors.get('bf16') as Tensor).dataSync()), vals);
      const f16 = tidy(() => Array.from(Tensor.fromArray([0.5, -65504, 6e-8, 1e-5], [4], { dtype: 'float16' }).dataSync()));
      assert.deepEqual(Array.from((tensors.get('f16') as Tensor).dataSync()), f16);
      assert.equal((tensors.get('f16') as Tensor).dtype, 'float16');
      assert.deepEqual(Array.from((tensors.get('u8') as Tensor).dataSync()), [0, 255, 7]);
      for (const t of tensors.values()) if (t instanceof Tensor) t.dispose();
    });
  });

  it('refuses malformed files, naming the problem', () => {
    const good = encodeSafetensors([['a', { dtype: 'F32', shape: [2], data: new Uint8Array(8) }]]);
    assertThrowsNamed(() => decodeSafetensors(good.subarray(0, 5)), RangeError, 'shorter');
    const huge = Buffer.from(good);
    huge.writeBigUInt64LE(1n << 40n, 0);
    assertThrowsNamed(() => decodeSafetensors(huge), RangeError, 'header length');
    assertThrowsNamed(() => decodeSafetensors(good.subarray(0, good.length - 4)), RangeError, "'a'", 'data_offsets');
    const notJson = Buffer.from(good);
    notJson[8] = 0x21;
    assertThrowsNamed(() => decodeSafetensors(notJson), RangeError, 'not JSON');
    assertThrowsNamed(() => encodeSafetensors([['a', { dtype: 'F32', shape: [3], data: new Uint8Array(8) }]]), RangeError, "'a'", '12');
  });

  // Files built by hand: a header listing the given entries, then `dataLen` bytes.
  function crafted(entries: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>, dataLen: number): Buffer {
    let json = JSON.stringify(entries);
    while (json.length % 8 !== 0) json += ' ';
    const out = Buffer.alloc(8 + json.length + dataLen);
    out.writeBigUInt64LE(BigInt(json.length), 0);
    out.write(json, 8, 'ascii');
    return out;
  }
  const f32 = (n: number, begin: number) => ({ dtype: 'F32', shape: [n], data_offsets: [begin, begin + 4 * n] as [number, number] });

  it("refuses tensors that overlap, leave holes or leave trailing bytes (the format's coverage rule)", () => {
    const bad = (buf: Buffer, ...fragments: string[]) =>
      assert.throws(
        () => decodeSafetensors(buf, 'f.safetensors'),
        (e: Error & { code?: string }) => {
          assert.ok(e instanceof RangeError, String(e));
          assert.equal(e.code, 'ERR_INVALID_SAFETENSORS');
          for (const f of ['f.safetensors', ...fragments]) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
          return true;
        },
      );
    // bn1.bias pointing into bn1.weight's bytes, same size: the aliasing a crafted file could hide.
    bad(crafted({ 'bn1.weight': f32(2, 0), 'bn1.bias': f32(2, 0) }, 8), 'overlaps', "'bn1.weight'");
    bad(crafted({ a: f32(2, 0), b: f32(2, 4) }, 12), 'overlaps');
    bad(crafted({ a: f32(2, 0), b: f32(2, 12) }, 20), 'belong to no tensor', '[8, 12)');
    bad(crafted({ a: f32(2, 4) }, 12), 'belong to no tensor', '[0, 4)');
    bad(crafted({ a: f32(2, 0) }, 12), 'trailing bytes');
    // In order, back to back, covering everything: accepted, whatever the header's key order.
    const ok = decodeSafetensors(crafted({ b: f32(1, 8), a: f32(2, 0), empty: { dtype: 'F32', shape: [0], data_offsets: [12, 12] } }, 12));
    assert.deepEqual([...ok.tensors.keys()].sort(), ['a', 'b', 'empty']);
    assert.throws(() => decodeSafetensors(crafted({ __metadata__: { n: 1 } as never, a: f32(1, 0) }, 4)), /__metadata__/);
  });

  it('a missing file is named with its path, not a raw ENOENT', () => {
    const missing = path.join(dir, 'nope.safetensors');
    using model = cifarResNet(8, { classes: 2, init: false });
    assert.throws(
      () => loadCheckpoint(missing, model),
      (e: Error & { code?: string; file?: string }) => {
        assert.equal(e.code, 'ERR_FILE_NOT_FOUND');
        assert.equal(e.file, missing);
        assert.match(e.message, /nope\.safetensors: no such file/);
        return true;
      },
    );
  });
});

describe('checkpoints', () => {
  function trained(seed: number) {
    const model = cifarResNet(8, { classes: 3, seed });
    const opt = new SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    tidy(() => {
      const { loss } = softmaxCrossEntropy(model.forward(Tensor.randn([4, 3, 8, 8], { seed })), Tensor.fromArray(Int32Array.from([0, 1, 2, 0]), [4]));
      backward(loss);
      opt.step();
    });
    return { model, opt };
  }

  it('model and optimizer state round-trip through a file', () => {
    const file = path.join(dir, 'model.safetensors');
    const a = trained(1);
    saveCheckpoint(file, a.model, { optimizer: a.opt, metadata: { epoch: 3 } });
    const f = readSafetensors(file);
    assert.equal(f.tensors.get('bn1.num_batches_tracked')!.dtype, 'I64');
    assert.deepEqual(f.tensors.get('bn1.num_batches_tracked')!.shape, []);
    assert.ok(f.tensors.has('optimizer.momentum_buffer.layer1.0.conv1.weight'));
    assert.equal(f.metadata.epoch, '3');

    const b = cifarResNet(8, { classes: 3, seed: 2 });
    const optB = new SGD(b, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
    const meta = loadCheckpoint(file, b, { optimizer: optB });
    assert.equal(meta['optimizer.step'], '1');
    assert.equal(optB.stepCount, 1);
    for (const [k, v] of a.model.stateDict()) {
      const w = b.stateDict().get(k)!;
      if (v instanceof Tensor) assert.deepEqual((w as Tensor).dataSync(), v.dataSync(), k);
      else assert.equal(w, v, k);
    }
    for (const [k, v] of a.opt.stateDict()) assert.deepEqual(optB.stateDict().get(k)!.dataSync(), v.dataSync(), k);
    for (const x of [a.model, a.opt, b, optB]) x.dispose();
  });

  it('a file that does not fit the model fails listing missing, extra and wrongly shaped tensors', () => {
    const file = path.join(dir, 'other.safetensors');
    const m = cifarResNet(8, { classes: 5, seed: 1 });
    tidy(() => {
      const state = new Map(m.stateDict());
      state.delete('layer2.0.bn2.running_mean');
      state.set('layer9.weight', Tensor.zeros([2]));
      saveSafetensors(file, state);
    });
    const target = cifarResNet(8, { classes: 3, seed: 1 });
    assert.throws(
      () => loadCheckpoint(file, target),
      (e: Error) => {
        assert.ok(e instanceof RangeError);
        for (const part of [
          'missing tensors: layer2.0.bn2.running_mean',
          'unexpected tensors: layer9.weight',
          'fc.weight: [5, 64] in the file, [3, 64] in the model',
          'fc.bias',
        ])
          assert.ok(e.message.includes(part), `"${e.message}" lacks "${part}"`);
        return true;
      },
    );
    m.dispose();
    target.dispose();
    assertThrowsNamed(() => loadCheckpoint(path.join(dir, 'absent.safetensors'), cifarResNet(8)), Error, 'absent.safetensors');
  });
});
