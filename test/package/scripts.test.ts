// npm runs `pre<name>` and `post<name>` around `npm run <name>` without saying so, and runs
// lifecycle scripts (install, prepare, prepack...) on its own. A script that is one by
// accident runs work nobody asked for (a `prebuild` once packaged binaries on every
// `npm run build`), so every such name must be one this list intends.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { packageRoot } from '../../lib/native';

/** The hooks and lifecycle scripts package.json means to have, and why. */
const INTENDED: Record<string, string> = {
  pretest: 'compiles the TypeScript before `npm test` runs the compiled suite',
  prepare: 'in a clone (npm install / npm ci) or a git dependency: builds the addon and dist/; never run for a registry install',
  prepack: 'compiles dist/ and refuses to pack without it or a prebuilt binary (scripts/check-pack.js)',
};

/** Scripts npm runs by itself (docs.npmjs.com, "Life Cycle Scripts"), with their pre/post. */
const LIFECYCLE = ['install', 'prepare', 'prepublish', 'prepublishOnly', 'prepack', 'postpack', 'publish', 'uninstall', 'version', 'dependencies'];
const lifecycleNames = new Set(LIFECYCLE.flatMap((n) => [n, `pre${n}`, `post${n}`]));

function scripts(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  return pkg.scripts ?? {};
}

/** Names that npm would run implicitly: hooks of another script, and lifecycle scripts. */
function implicitScripts(all: Record<string, string>): string[] {
  const names = Object.keys(all);
  return names.filter((n) => {
    const hookOf = /^(pre|post)(.+)$/.exec(n)?.[2];
    return (hookOf !== undefined && (names.includes(hookOf) || ['test', 'start', 'stop', 'restart'].includes(hookOf))) || lifecycleNames.has(n);
  });
}

describe('package.json scripts', () => {
  it('run no hook or lifecycle script except the intended ones', () => {
    for (const name of implicitScripts(scripts()))
      assert.ok(name in INTENDED, `script '${name}' runs implicitly (a pre/post hook or an npm lifecycle script); rename it or list it in INTENDED`);
  });

  it('the check sees the accidental hooks it exists for', () => {
    assert.deepEqual(implicitScripts({ build: 'x', prebuild: 'y', postbuild: 'z', prepack: 'p', 'package:prebuilds': 'q' }), [
      'prebuild',
      'postbuild',
      'prepack',
    ]);
  });

  it('every intended one is still there (or this list is stale)', () => {
    const all = scripts();
    for (const name of Object.keys(INTENDED)) assert.ok(name in all, `INTENDED lists '${name}', which package.json no longer has`);
  });
});
