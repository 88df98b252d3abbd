// The published package, as a user gets it: pack, install the tarball into a fresh project
// with npm's default script policy and no compiler reachable, then use it from CommonJS, an
// ES module, TypeScript (the repository's and the newest release) and the CLI. The binary
// inside is the prebuilt one (scripts/package-prebuilds.js run on whatever addon this test suite runs
// against); the package has no install script, so nothing runs or compiles on install.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { keepTestTmp } from '../../lib/env';
import { Ctx, installIntoApp, ok, packTarball, PackResult, pkg, PREBUILT, root, sh, skipReason, TOOLS } from './install-helpers';

const reason = skipReason();

describe('npm package: pack, install without a compiler, use', function () {
  if (reason !== null) {
    it(`skipped: ${reason}`);
    return;
  }
  this.timeout(240000);
  const ctx = {} as Ctx;
  let packed: PackResult;

  before(function () {
    ctx.tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cudnn-resnet-pkg-'));
    packed = packTarball(ctx.tmp);
    ctx.tarball = path.join(ctx.tmp, packed.filename);
    installIntoApp(ctx);
  });

  after(() => {
    if (ctx.tmp && !keepTestTmp()) fs.rmSync(ctx.tmp, { recursive: true, force: true });
  });

  it('packs the prebuilt binary, compiled lib, bin, README and LICENSE, and nothing of the workshop', () => {
    const files = packed.files.map((f) => f.path);
    for (const need of [
      PREBUILT,
      PREBUILT.replace(/\.node$/, '.json'),
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/lib/native.js',
      'dist/lib/cli/main.js',
      'dist/lib/cli/doctor.js',
      'bin/cudnn-resnet.js',
      'README.md',
      'LICENSE',
      'package.json',
      'scripts/build-from-source.js',
      'scripts/env.js',
    ]) {
      assert.ok(files.includes(need), `${need} is not in the tarball`);
    }
    const stray = files.filter(
      (f) =>
        /^(test|bench|docs|build[^/]*|node_modules|dist\/(test|bench)|dist-[^/]*|data|runs)\//.test(f) || (/\.(map|tgz|ts)$/.test(f) && !f.endsWith('.d.ts')),
    );
    assert.deepEqual(stray, [], 'files that must not ship');
  });

  it('has no install script, so npm runs nothing; its notice can only name prepare, which it does not run', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(ctx.app, 'node_modules', pkg.name, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      gypfile?: boolean;
    };
    for (const s of ['preinstall', 'install', 'postinstall']) assert.equal(manifest.scripts[s], undefined, `scripts.${s}`);
    // binding.gyp ships (for build:from-source); without this npm would run node-gyp on install.
    assert.equal(manifest.gypfile, false);
    // npm 11 lists `prepare` in its install-scripts notice, though it runs it only for a clone
    // or a git dependency; nothing else of this package may appear there.
    const listed = [...ctx.installLog.matchAll(/cudnn-resnet@[\d.]+ \(([^)]*)\)/g)].map((m) => m[1]);
    for (const l of listed) assert.match(l, /^prepare: [^,]*$/, `npm lists more than prepare: ${l}`);
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    assert.match(readme, /needs no compiler and runs no install script/);
    assert.match(readme, /npm 11 lists its `prepare` script in its install-scripts notice/);
  });

  it('prepack refuses to pack without the compiled library or a prebuilt binary', () => {
    const scripts = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.prepack, /build:ts.*&&.*scripts\/check-pack\.js/);
    assert.match(scripts.prepare, /build:ts/, "a clone's `npm install` compiles the TypeScript (dist/ is not in git)");
    const copy = path.join(ctx.tmp, 'unbuilt');
    fs.cpSync(path.join(ctx.tmp, 'staging'), copy, { recursive: true });
    fs.mkdirSync(path.join(copy, 'scripts'), { recursive: true });
    fs.copyFileSync(path.join(root, 'scripts', 'check-pack.js'), path.join(copy, 'scripts', 'check-pack.js'));
    ok(spawnSync(process.execPath, ['scripts/check-pack.js'], { cwd: copy, encoding: 'utf8' }), 'check-pack on a complete package');
    fs.rmSync(path.join(copy, 'dist'), { recursive: true });
    fs.rmSync(path.join(copy, 'prebuilds'), { recursive: true });
    const r = spawnSync(process.execPath, ['scripts/check-pack.js'], { cwd: copy, encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /dist\/lib\/index\.js \(named in package\.json\) is missing: run `npm run build:ts`/);
    assert.match(r.stderr, /prebuilds\/ holds no binary/);
  });

  it('installs with no compiler on PATH and builds nothing', () => {
    const found = sh('/bin/sh', ['-c', `for t in ${TOOLS.join(' ')}; do command -v $t; done; true`], ctx.app, ctx.env).stdout.trim();
    assert.equal(found, '', `build tools reachable on the user's PATH: ${found}`);
    const installed = path.join(ctx.app, 'node_modules', pkg.name);
    assert.ok(fs.existsSync(path.join(installed, PREBUILT)));
    assert.ok(!fs.existsSync(path.join(installed, 'build')), 'a build/ folder appeared: something compiled on install');
  });

  it('trains a step on the CPU through the CommonJS entry point', () => {
    fs.writeFileSync(path.join(ctx.app, 'step.cjs'), STEP_CJS);
    const out = ok(sh('node', ['step.cjs'], ctx.app, ctx.env), 'node step.cjs');
    assert.match(out, /^step ok/m);
  });

  it('imports from an ES module', () => {
    fs.writeFileSync(path.join(ctx.app, 'esm.mjs'), ESM);
    const out = ok(sh('node', ['esm.mjs'], ctx.app, ctx.env), 'node esm.mjs');
    assert.match(out, /^esm ok 5,7,9$/m);
  });

  it('type-checks a TypeScript consumer against the shipped declarations (CommonJS and ESM)', () => {
    // The consumer declares no Node types of its own (`types: []`, as TypeScript 6+ defaults
    // to): the declarations bring what they use (Buffer, EventEmitter, Disposable).
    fs.writeFileSync(path.join(ctx.app, 'consumer.ts'), CONSUMER_TS);
    fs.writeFileSync(path.join(ctx.app, 'consumer.mts'), CONSUMER_TS);
    const config = (skipLibCheck: boolean) =>
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, noEmit: true, types: [], skipLibCheck },
        files: ['consumer.ts', 'consumer.mts'],
      });
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const skip of [false, true]) {
      fs.writeFileSync(path.join(ctx.app, 'tsconfig.json'), config(skip));
      ok(sh('node', [tsc, '-p', 'tsconfig.json'], ctx.app, ctx.env), `tsc (repository's) on the consumer, skipLibCheck ${skip}`);
    }
  });

  it('type-checks the same consumer with the newest TypeScript release and its default settings', function () {
    const app = path.join(ctx.tmp, 'ts-latest');
    fs.cpSync(ctx.app, app, { recursive: true, filter: (f) => !f.includes(`${path.sep}broken`) });
    const add = sh('npm', ['install', '--no-save', 'typescript@latest'], app, ctx.env);
    if (add.status !== 0 && /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network/i.test(add.stderr)) {
      console.log('      (the npm registry is unreachable: the newest TypeScript cannot be fetched)');
      this.skip();
    }
    ok(add, 'npm install typescript@latest');
    const tsc = path.join(app, 'node_modules', 'typescript', 'bin', 'tsc');
    console.log(`      typescript ${sh('node', [tsc, '--version'], app, ctx.env).stdout.trim()}`);
    for (const skipLibCheck of [false, true]) {
      fs.writeFileSync(
        path.join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'ES2022', strict: true, noEmit: true, skipLibCheck },
          files: ['consumer.ts', 'consumer.mts'],
        }),
      );
      ok(sh('node', [tsc, '-p', 'tsconfig.json'], app, ctx.env), `newest tsc on the consumer, skipLibCheck ${skipLibCheck}`);
    }
  });

  it('runs the CLI through npx: --version and doctor', () => {
    assert.equal(ok(sh('npx', ['cudnn-resnet', '--version'], ctx.app, ctx.env), 'npx cudnn-resnet --version').trim(), pkg.version);
    const doctor = ok(sh('npx', ['cudnn-resnet', 'doctor'], ctx.app, ctx.env), 'npx cudnn-resnet doctor');
    assert.ok(doctor.includes(PREBUILT) && doctor.includes('prebuilt, shipped in the package'), doctor);
    assert.match(doctor, /^summary: the addon works/m);
    const usage = sh('npx', ['cudnn-resnet', 'no-such-command'], ctx.app, ctx.env);
    assert.equal(usage.status, 2, usage.stderr);
  });

  it('without a fitting binary, says what it tried and what to do', () => {
    // Copies of the installed package: a binary that fits by name but does not load, with a
    // record saying it needs a newer glibc (an old distribution); prebuilds only for another
    // platform; no prebuilds at all.
    const broken = path.join(ctx.app, 'broken');
    const copy = path.join(broken, 'node_modules', pkg.name);
    fs.cpSync(path.join(ctx.app, 'node_modules', pkg.name), copy, { recursive: true });
    const record = path.join(copy, PREBUILT.replace(/\.node$/, '.json'));
    fs.writeFileSync(record, JSON.stringify({ ...JSON.parse(fs.readFileSync(record, 'utf8')), requires: { glibc: '9.99' } }));
    fs.writeFileSync(path.join(copy, PREBUILT), 'not an ELF file');
    const load = `try { require('${pkg.name}').native(); console.log('loaded') } catch (e) { console.log(e.code); console.log(e.message); process.exit(1) }`;
    const expected: Record<string, RegExp> = {
      'too-old': /cudnn-resnet\.napi\.glibc\.node: fits, but did not load \(needs glibc >= 9\.99, this system has [\d.]+\)/,
      'other-platform': /prebuilds\/linux-arm64: for linux-arm64, not linux-x64/,
      none: /prebuilds: absent/,
    };
    for (const [variant, tried] of Object.entries(expected)) {
      if (variant === 'other-platform') fs.renameSync(path.dirname(path.join(copy, PREBUILT)), path.join(copy, 'prebuilds', 'linux-arm64'));
      if (variant === 'none') fs.rmSync(path.join(copy, 'prebuilds'), { recursive: true });
      const r = sh('node', ['-e', load], broken, ctx.env);
      assert.equal(r.status, 1, `${variant}: ${r.stdout}${r.stderr}`);
      const msg = r.stdout;
      assert.match(msg, /^ERR_CUDNN_RESNET_ADDON$/m);
      assert.match(msg, /could not load its native addon/);
      assert.match(msg, /build\/Release: no local build/);
      assert.match(msg, tried, `${variant}:\n${msg}`);
      assert.match(msg, /cd node_modules\/cudnn-resnet && npm run build:from-source/);
      assert.match(msg, /npm run build:native/);
      const doctor = sh('node', [path.join(copy, 'bin', 'cudnn-resnet.js'), 'doctor'], broken, ctx.env);
      assert.equal(doctor.status, 1, doctor.stdout);
      assert.match(doctor.stdout, /\[FAIL\] load/);
    }
  });
});

// A few SGD steps of a small CIFAR ResNet on one fixed batch, through the package root's
// public API; the loss must fall, so a broken install cannot pass by printing.
const STEP_CJS = `
const { Tensor, models, optim, nn, tidy } = require('cudnn-resnet');
const model = models.create('resnet8', { classes: 4, seed: 1 });
const opt = new optim.SGD(model, { lr: 0.05, momentum: 0.9 });
const x = Tensor.randn([8, 3, 16, 16], { seed: 2 });
const y = Tensor.fromArray([0, 1, 2, 3, 0, 1, 2, 3], [8], { dtype: 'int32' });
const losses = [];
for (let step = 0; step < 6; step++) {
  losses.push(tidy(() => {
    opt.zeroGrad();
    const { loss } = nn.functional.softmaxCrossEntropy(model.forward(x), y);
    loss.backward();
    opt.step();
    return loss.item();
  }));
}
if (!losses.every(Number.isFinite) || !(losses[losses.length - 1] < losses[0])) throw new Error('loss did not fall: ' + losses.join(', '));
console.log('step ok ' + losses.map((l) => l.toFixed(4)).join(' '));
`;

const ESM = `
import { native, Tensor, models, optim, nn } from 'cudnn-resnet';
import * as all from 'cudnn-resnet';
if (all.native !== native || all.Tensor !== Tensor) throw new Error('namespace and named imports differ');
for (const [name, f] of [['models.create', models.create], ['optim.SGD', optim.SGD], ['nn.Conv2d', nn.Conv2d]])
  if (typeof f !== 'function') throw new Error(name + ' is not exported to ES modules');
const a = Tensor.fromArray([1, 2, 3], [3]);
const b = Tensor.fromArray([4, 5, 6], [3]);
console.log('esm ok ' + Array.from(nn.functional.add(a, b).dataSync()).join(','));
`;

const CONSUMER_TS = `
import { native, Tensor, models, optim, Trainer, data } from 'cudnn-resnet';
import type { NativeTensor, DType } from 'cudnn-resnet';
const dtype: DType = 'float32';
const t: NativeTensor = native().full([2, 3], dtype, 'NCHW', 'cpu', 1);
const shape: number[] = t.shape;
const model: models.ResNet = models.create('resnet20');
const opt: optim.SGD = new optim.SGD(model, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
const x: Tensor = Tensor.zeros([1, 3, 32, 32]);
// @ts-expect-error: the declarations are real, so an unknown dtype is a type error
native().full([2], 'float64', 'NCHW', 'cpu', 1);
// @ts-expect-error: and SGD wants its options
new optim.SGD(model);
// Node types the declarations use: EventEmitter (Trainer.on), Buffer, Disposable.
const trainer = new Trainer({ model: 'resnet8', iterations: 1 });
trainer.on('step', (s: { loss: number }) => s.loss);
const ds: data.Dataset = data.syntheticDataset({ count: 2 });
const bytes: Uint8Array = ds.images;
{
  using scratch = Tensor.zeros([1]);
  scratch.dataSync();
}
export const used = [shape, opt, x, bytes];
`;
