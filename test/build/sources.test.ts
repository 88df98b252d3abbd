// CMakeLists.txt (cmake-js, the main build) and binding.gyp (node-gyp, the fallback that
// node-gyp-build runs) must compile the same CPU sources, or one of them silently drifts.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { packageRoot } from '../../lib/native';

const root = packageRoot();

function cmakeList(name: string): string[] {
  const text = fs.readFileSync(path.join(root, 'CMakeLists.txt'), 'utf8');
  const m = new RegExp(`set\\(${name}\\s+([^)]*)\\)`).exec(text);
  assert.ok(m, `CMakeLists.txt has no set(${name} ...)`);
  return m[1].split(/\s+/).filter(Boolean);
}

function gypSources(): string[] {
  const gyp = JSON.parse(fs.readFileSync(path.join(root, 'binding.gyp'), 'utf8')) as {
    targets: Array<{ target_name: string; sources: string[] }>;
  };
  const target = gyp.targets.find((t) => t.target_name === 'cudnn_resnet');
  assert.ok(target, 'binding.gyp has no cudnn_resnet target');
  return target.sources;
}

describe('build definitions', () => {
  it('CMakeLists.txt and binding.gyp list the same CPU sources', () => {
    assert.deepEqual([...gypSources()].sort(), [...cmakeList('CR_CPU_SOURCES')].sort());
  });

  it('every listed source exists, and every native/{core,cpu,bindings} source is listed', () => {
    const listed = new Set([...cmakeList('CR_CPU_SOURCES'), ...cmakeList('CR_CUDA_SOURCES')]);
    for (const f of listed) assert.ok(fs.existsSync(path.join(root, f)), `${f} is listed but missing`);
    for (const dir of ['native/core', 'native/cpu', 'native/bindings', 'native/cuda']) {
      for (const f of fs.readdirSync(path.join(root, dir), { recursive: true }) as string[]) {
        if (/\.(cpp|cu)$/.test(f)) assert.ok(listed.has(`${dir}/${f}`), `${dir}/${f} is in no source list`);
      }
    }
  });

  it('the CUDA sources are not in the node-gyp build (it is CPU only)', () => {
    const gyp = new Set(gypSources());
    for (const f of cmakeList('CR_CUDA_SOURCES')) assert.ok(!gyp.has(f), `${f} should not be in binding.gyp`);
  });

  it('every message says the same about which CUDA cuDNN must be built for', () => {
    const files = ['README.md', ...['lib', 'native', 'docs'].flatMap((d) =>
      (fs.readdirSync(path.join(root, d), { recursive: true }) as string[]).map((f) => path.join(d, f)))]
      .filter((f) => /\.(ts|cpp|cu|cuh|h|md)$/.test(f));
    const claims = new Map<string, string[]>();
    for (const f of files) {
      const text = fs.readFileSync(path.join(root, f), 'utf8').replace(/"\s*\n\s*"/g, '');
      for (const m of text.matchAll(/cuDNN 9 for CUDA ([0-9][0-9 ,or]*[0-9])/g)) claims.set(m[1], [...(claims.get(m[1]) ?? []), f]);
    }
    assert.deepEqual([...claims.keys()], ['13'], `conflicting claims: ${JSON.stringify(Object.fromEntries(claims))}`);
  });
});
