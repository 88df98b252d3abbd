// A fresh clone must stay clean after `npm install`: the lockfile's entry for the package
// itself has to say what package.json says, or npm rewrites it (the root "bin" entry was
// missing once, so every clone started with a modified package-lock.json).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { packageRoot } from '../../lib/native';

const root = packageRoot();

describe('package: package-lock.json matches package.json', () => {
  it('the root entry repeats name, version, license, bin, engines, os and every dependency', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
    const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
      name: string;
      version: string;
      packages: Record<string, Record<string, unknown>>;
    };
    const entry = lock.packages[''];
    assert.equal(lock.name, pkg.name);
    assert.equal(lock.version, pkg.version);
    for (const k of ['name', 'version', 'license', 'bin', 'engines', 'os', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      assert.deepEqual(entry[k], pkg[k], `package-lock.json packages[""].${k}`);
    }
    const scripts = (pkg.scripts ?? {}) as Record<string, string>;
    const installs = ['preinstall', 'install', 'postinstall'].some((s) => s in scripts);
    assert.equal(entry.hasInstallScript === true, installs, 'hasInstallScript');
    // Every dependency is locked.
    for (const dep of Object.keys({ ...(pkg.dependencies as object), ...(pkg.devDependencies as object) })) {
      assert.ok(lock.packages[`node_modules/${dep}`], `${dep} is not in package-lock.json`);
    }
  });
});
