// The addon's exports (native/bindings/op_table.h) against the names lib/native.ts types in
// NativeAddon, read from the source with the TypeScript compiler so that an op is listed
// once on each side of the boundary.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import * as ts from 'typescript';

import { native, packageRoot } from '../lib/native';

/** The member names of interface `name` in a TypeScript source file. */
function interfaceMembers(file: string, name: string): string[] {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  assert.ok(found, `${file} declares no interface ${name}`);
  return found.members.map((m) => {
    assert.ok(m.name && (ts.isIdentifier(m.name) || ts.isStringLiteral(m.name)), `${name} has a member without a plain name`);
    return m.name.text;
  });
}

describe('native addon', () => {
  it('exports exactly the functions lib/native.ts declares in NativeAddon', () => {
    const declared = interfaceMembers(path.join(packageRoot(), 'lib', 'native.ts'), 'NativeAddon');
    assert.equal(new Set(declared).size, declared.length, 'NativeAddon names a function twice');
    assert.deepEqual(Object.keys(native()).sort(), [...declared].sort());
  });

  it('exports functions only', () => {
    for (const [k, v] of Object.entries(native())) assert.equal(typeof v, 'function', k);
  });

  it('reports its build', () => {
    const info = native().buildInfo();
    assert.equal(typeof info.cuda, 'boolean');
    assert.ok(info.cpuThreads >= 1);
    assert.ok(['avx512', 'avx2-fma', 'generic'].includes(info.cpuKernel), `cpuKernel ${info.cpuKernel}`);
    assert.ok(['avx512', 'avx2-fma', 'none'].includes(info.cpuDirectConv), `cpuDirectConv ${info.cpuDirectConv}`);
    assert.equal(info.napiVersion, 8);
  });

  it("cpuThreadTimes: the caller's clock counts this thread's work, the pool's the workers'", () => {
    const n = native();
    const processMs = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1e3;
    };
    // Busy on this thread until its clock shows 30 ms (at most 5 s of wall time): the clock
    // advances, and never past the process's CPU time or the wall time (other threads may
    // add to the process's, so that is a bound, not an equality).
    const t0 = n.cpuThreadTimes().callerMs;
    const p0 = processMs();
    const w0 = performance.now();
    let caller: number;
    let x = 0;
    while ((caller = n.cpuThreadTimes().callerMs - t0) < 30 && performance.now() - w0 < 5000) for (let i = 0; i < 1e5; i++) x += Math.sqrt(i);
    const proc = processMs() - p0;
    const wall = performance.now() - w0;
    assert.ok(x > 0);
    assert.ok(caller >= 30, `the caller's clock reached ${caller.toFixed(2)} ms in ${wall.toFixed(0)} ms of spinning`);
    assert.ok(caller <= proc + 1 && caller <= wall + 1, `caller ${caller.toFixed(2)} ms, process ${proc.toFixed(2)} ms, wall ${wall.toFixed(2)} ms`);
    const a = n.full([1 << 22], 'float32', 'NCHW', 'cpu', 1);
    const before = n.cpuThreadTimes().poolMs;
    const b = n.add(a, a);
    const after = n.cpuThreadTimes().poolMs;
    if (n.buildInfo().cpuThreads > 1) assert.ok(after > before, `pool ${before} -> ${after} ms over a parallel add`);
    else assert.equal(after, before, 'a single thread has no pool at work');
    a.dispose();
    b.dispose();
  });
});
