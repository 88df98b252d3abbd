import * as assert from 'node:assert/strict';

import { native, NATIVE_EXPORTS } from '../lib/native';

describe('native addon', () => {
  it('exports exactly the ops that lib/native.ts declares', () => {
    const exported = Object.keys(native()).sort();
    assert.deepEqual(exported, [...NATIVE_EXPORTS].sort());
  });

  it('reports its build', () => {
    const info = native().buildInfo();
    assert.equal(typeof info.cuda, 'boolean');
    assert.ok(info.cpuThreads >= 1);
    assert.ok(['avx512', 'avx2-fma', 'generic'].includes(info.cpuKernel), `cpuKernel ${info.cpuKernel}`);
    assert.equal(info.napiVersion, 8);
  });
});
