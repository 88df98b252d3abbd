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
    assert.ok(['avx512', 'none'].includes(info.cpuDirectConv), `cpuDirectConv ${info.cpuDirectConv}`);
    assert.equal(info.napiVersion, 8);
  });
});
