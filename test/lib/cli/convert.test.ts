// `cudnn-resnet convert` in a child process of the compiled CLI: a .pth state dict comes
// out as safetensors with the same names, dtypes and bytes; bad input exits 1 or 2.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readPth, readSafetensors } from '../../../lib/checkpoint';
import { fixture } from '../checkpoint/fixtures';

const cli = path.resolve(__dirname, '..', '..', '..', 'lib', 'cli', 'main.js');

describe('cli: convert', function () {
  this.timeout(60000);
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-convert-'));
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const run = (args: string[]) => spawnSync(process.execPath, [cli, 'convert', ...args], { encoding: 'utf8', timeout: 60000 });

  it('writes the state dict as safetensors: same names, dtypes, shapes and bytes', () => {
    for (const name of ['resnet8-legacy.pth', 'resnet18-fp16.pth']) {
      const out = path.join(tmp, `${name}.safetensors`);
      const r = run([fixture(name), out]);
      assert.equal(r.status, 0, r.stderr);
      const src = readPth(fixture(name));
      assert.match(r.stdout, new RegExp(`${src.tensors.size} tensors`));
      const got = readSafetensors(out);
      assert.deepEqual([...got.tensors.keys()], [...src.tensors.keys()]);
      for (const [k, t] of src.tensors) {
        const g = got.tensors.get(k)!;
        assert.equal(g.dtype, t.dtype, k);
        assert.deepEqual(g.shape, t.shape, k);
        assert.ok(Buffer.from(g.data).equals(Buffer.from(t.data)), `${k} bytes`);
      }
      assert.equal(got.metadata.format, 'pytorch');
    }
  });

  it('exits 2 on a bad command line and 1 on a refused file, writing nothing', () => {
    const out = path.join(tmp, 'x.safetensors');
    let r = run([fixture('resnet8.pth')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /expected INPUT and OUTPUT/);
    r = run([path.join(tmp, 'missing.pth'), out]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no such file/);
    r = run([fixture('malicious.pth'), out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refusing global 'posix\.system'/);
    assert.equal(fs.existsSync(out), false);
    fs.writeFileSync(out, 'x');
    r = run([fixture('resnet8.pth'), out]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /exists \(--force overwrites it\)/);
    assert.equal(run([fixture('resnet8.pth'), out, '--force']).status, 0);
  });
});
