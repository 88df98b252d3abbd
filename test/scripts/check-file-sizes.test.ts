// The 400-line limit on source files (scripts/check-file-sizes.js, also run by `npm run lint`):
// this repository keeps it, and the check sees a file one line over.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { packageRoot } from '../../lib/native';

const script = path.join(packageRoot(), 'scripts', 'check-file-sizes.js');

function check(root: string) {
  return spawnSync(process.execPath, [script, '--root', root], { encoding: 'utf8' });
}

describe('source file size limit', () => {
  it('no source file of this repository is over 400 lines', () => {
    const r = check(packageRoot());
    assert.equal(r.status, 0, r.stderr);
  });

  it('fails on a 401-line file and names it; passes 400 lines; skips fixtures and build outputs', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cr-sizes-'));
    try {
      const lines = (n: number) => Array.from({ length: n }, (_, i) => `// ${i}`).join('\n') + '\n';
      fs.mkdirSync(path.join(dir, 'lib', 'ops'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'test', 'fixtures'), { recursive: true });
      fs.mkdirSync(path.join(dir, 'native', 'build'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'lib', 'ops', 'ok.ts'), lines(400));
      fs.writeFileSync(path.join(dir, 'test', 'fixtures', 'big.ts'), lines(900));
      fs.writeFileSync(path.join(dir, 'native', 'build', 'gen.cpp'), lines(900));
      assert.equal(check(dir).status, 0, 'a 400-line file and skipped folders pass');
      fs.writeFileSync(path.join(dir, 'native', 'op.cu'), lines(401));
      const r = check(dir);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /native\/op\.cu: 401 lines/);
      assert.doesNotMatch(r.stderr, /ok\.ts|big\.ts|gen\.cpp/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
