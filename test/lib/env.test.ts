// The environment variables are listed once (lib/env.ts), shown once (the README table), and
// read only by the three env modules: this checks all of that against the source, so a new
// switch read somewhere deep in a kernel or script fails here until it is documented.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { ENVIRONMENT } from '../../lib/env';
import { packageRoot } from '../../lib/native';

const root = packageRoot();
const NAME = /\b(CUDNN_RESNET_[A-Z0-9_]+|CUDNN_LIBRARY_PATH)\b/g;
// The modules allowed to read the variables, by reader.
const READERS: Record<string, string> = {
  library: 'lib/env.ts',
  tests: 'lib/env.ts',
  addon: 'native/core/env.cpp',
  build: 'scripts/env.js',
};

function sourceFiles(dir: string): string[] {
  const abs = path.join(root, dir);
  if (!fs.existsSync(abs)) return [];
  return (fs.readdirSync(abs, { recursive: true }) as string[]).filter((f) => /\.(ts|js|cpp|h|cu|cuh|sh)$/.test(f)).map((f) => path.join(dir, f));
}

const CODE = ['lib', 'native', 'scripts', 'bin', 'bench', 'test', 'examples'].flatMap(sourceFiles).filter((f) => f !== path.join('test', 'lib', 'env.test.ts'));

function readmeTable(): string[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const at = readme.indexOf('## Environment variables');
  assert.ok(at >= 0, 'README.md has no "Environment variables" section');
  const section = readme.slice(at).split(/\n## /)[0];
  return [...section.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
}

/** The variables a file reads: process.env.X / process.env['X'] not assigned to, getenv("X"), read("X"). */
function reads(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/process\.env(?:\.([A-Z0-9_]+)\b|\[['"]([A-Z0-9_]+)['"]\])(?!\s*=[^=])/g)) out.push(m[1] ?? m[2]);
  for (const m of text.matchAll(/\b(?:getenv|read)\(\s*"([A-Z0-9_]+)"\s*\)/g)) out.push(m[1]);
  for (const m of text.matchAll(/\bread\(\s*'([A-Z0-9_]+)'\s*\)/g)) out.push(m[1]);
  return out.filter((n) => new RegExp(`^${NAME.source}$`).test(n));
}

describe('environment variables', () => {
  const listed = ENVIRONMENT.map((v) => v.name);

  it('the README table lists exactly the variables of lib/env.ts, in the same order', () => {
    assert.deepEqual(readmeTable(), listed);
  });

  it('every variable named anywhere in the code is listed', () => {
    const unlisted = new Set<string>();
    for (const f of CODE) {
      for (const m of fs.readFileSync(path.join(root, f), 'utf8').matchAll(NAME)) {
        if (!listed.includes(m[1])) unlisted.add(`${m[1]} (${f})`);
      }
    }
    assert.deepEqual([...unlisted], []);
  });

  it('each listed variable is read by the env module of its reader', () => {
    for (const v of ENVIRONMENT) {
      const file = READERS[v.readBy];
      assert.ok(reads(fs.readFileSync(path.join(root, file), 'utf8')).includes(v.name), `${file} does not read ${v.name}`);
    }
  });

  it('no code outside the env modules reads a listed variable (saving one to restore it aside)', () => {
    const modules = new Set(Object.values(READERS));
    const stray: string[] = [];
    for (const f of CODE.filter((f) => !f.startsWith(`test${path.sep}`) && !modules.has(f))) {
      const text = fs.readFileSync(path.join(root, f), 'utf8');
      for (const n of reads(text)) {
        if (!text.includes(`process.env.${n} =`)) stray.push(`${f} reads ${n}`);
      }
    }
    assert.deepEqual(stray, []);
  });
});
