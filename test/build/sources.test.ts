// CMakeLists.txt (cmake-js, the main build) and binding.gyp (node-gyp, the fallback that
// node-gyp-build runs) must compile the same CPU sources, or one of them silently drifts; and
// the layering holds: core/ includes nothing above it, bindings compile the same code with
// and without the CUDA backend (no preprocessor switch on it).
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
  it('binding.gyp lists what a CMake build without CUDA compiles: the CPU sources and the placeholders', () => {
    const cpuOnly = [...cmakeList('CR_CPU_SOURCES'), ...cmakeList('CR_CUDA_PLACEHOLDER_SOURCES')];
    assert.deepEqual([...gypSources()].sort(), cpuOnly.sort());
  });

  it('every listed source exists, and every native/{core,cpu,bindings} source is listed', () => {
    const listed = new Set([
      ...cmakeList('CR_CPU_SOURCES'),
      ...cmakeList('CR_CUDA_SOURCES'),
      ...cmakeList('CR_CUDA_PLACEHOLDER_SOURCES'),
    ]);
    for (const f of listed) assert.ok(fs.existsSync(path.join(root, f)), `${f} is listed but missing`);
    for (const dir of ['native/core', 'native/cpu', 'native/bindings', 'native/cuda']) {
      for (const f of fs.readdirSync(path.join(root, dir), { recursive: true }) as string[]) {
        if (/\.(cpp|cu)$/.test(f)) assert.ok(listed.has(`${dir}/${f}`), `${dir}/${f} is in no source list`);
      }
    }
  });

  it('native/core includes nothing from cpu/, cuda/ or bindings/', () => {
    for (const f of fs.readdirSync(path.join(root, 'native/core'))) {
      const text = fs.readFileSync(path.join(root, 'native/core', f), 'utf8');
      for (const m of text.matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
        assert.ok(!m[1].includes('/'), `native/core/${f} includes "${m[1]}" from outside core/`);
      }
    }
  });

  it('no native source outside cuda/ switches on whether the CUDA backend is built', () => {
    for (const dir of ['native/core', 'native/cpu', 'native/bindings']) {
      for (const f of fs.readdirSync(path.join(root, dir))) {
        const text = fs.readFileSync(path.join(root, dir, f), 'utf8');
        assert.ok(!/^\s*#\s*if(n?def)?\b.*CR_WITH_CUDA/m.test(text), `${dir}/${f} has a CR_WITH_CUDA conditional`);
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
