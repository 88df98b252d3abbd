// Every code block of the README and every script in examples/ is checked as written: the
// JavaScript ones run (in a scratch project where require('cudnn-resnet') is this package),
// the shell ones must name real npm scripts, real subcommands and only options those
// subcommands accept. Long commands (a 164-epoch run) are not run; their flags are checked.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { packageRoot } from '../../lib/native';

const root = packageRoot();
// The compiled tree this test runs from (dist/ in CI): the snippets use its lib/.
const libIndex = path.resolve(__dirname, '..', '..', 'lib', 'index.js');

export interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** Why the suite does not run it (an HTML comment `<!-- not run: reason -->` above the fence), or null. */
  notRun: string | null;
}

/** The fenced code blocks of a markdown text, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    assert.ok(i < lines.length, `unclosed code block at line ${start + 1}`);
    const marker = start > 0 ? /^<!-- not run: (.+) -->$/.exec(lines[start - 1].trim()) : null;
    blocks.push({ lang: open[1], code: body.join('\n') + '\n', line: start + 1, notRun: marker ? marker[1] : null });
  }
  return blocks;
}

/** Shell commands of a block: continuation lines joined, comments and prompts dropped. */
export function shellCommands(code: string): string[] {
  return code
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter(Boolean);
}

function words(cmd: string): string[] {
  return cmd.split(/\s+/).filter(Boolean);
}

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
/** The README's prose with line breaks and indentation collapsed, for sentences that wrap. */
const prose = readme.replace(/\s+/g, ' ');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

/** The long options a subcommand's usage text lists. */
async function optionsOf(command: string): Promise<Set<string>> {
  const modules: Record<string, () => Promise<{ usage: string }>> = {
    train: () => import('../../lib/cli/train'),
    convert: () => import('../../lib/cli/convert'),
    predict: () => import('../../lib/cli/predict'),
    eval: () => import('../../lib/cli/eval'),
    doctor: () => import('../../lib/cli/doctor'),
    'grad-flow': () => import('../../lib/cli/grad-flow'),
    degradation: () => import('../../lib/cli/degradation'),
  };
  assert.ok(modules[command], `'${command}' is not a cudnn-resnet command`);
  const { usage } = await modules[command]();
  return new Set([...usage.matchAll(/(^|[\s,[(|])(--[a-z][a-z0-9-]*)/g)].map((m) => m[2]));
}

/** Checks one shell command against package.json and the CLI; returns what was checked. */
async function checkCommand(cmd: string): Promise<string> {
  const w = words(cmd.replace(/^(?:[A-Z_]+=\S+\s+)+/, ''));
  if (w[0] === 'npm') {
    if (w[1] === 'install' || w[1] === 'ci') return 'npm install';
    const script = w[1] === 'run' ? w[2] : w[1];
    assert.ok(pkg.scripts[script], `\`${cmd}\`: package.json has no '${script}' script`);
    return `npm script ${script}`;
  }
  if (w[0] === 'npx' && w[1] === 'cudnn-resnet') {
    const sub = w[2];
    const known = await optionsOf(sub);
    for (const a of w.slice(3)) {
      if (!a.startsWith('--')) continue;
      const flag = a.split('=')[0];
      assert.ok(known.has(flag) || flag === '--help', `\`${cmd}\`: ${sub} has no option ${flag}`);
    }
    return `cudnn-resnet ${sub}`;
  }
  if (w[0] === 'node' || w[0] === 'CUDNN_RESNET_CPU_THREADS') return 'node';
  assert.fail(`\`${cmd}\`: not a command this test knows how to check`);
}

describe('docs: README and examples/ code, as written', function () {
  this.timeout(300000);
  let app: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    app = fs.mkdtempSync(path.join(os.tmpdir(), 'cudnn-resnet-snippets-'));
    const shim = path.join(app, 'node_modules', 'cudnn-resnet');
    fs.mkdirSync(shim, { recursive: true });
    fs.writeFileSync(path.join(shim, 'package.json'), JSON.stringify({ name: 'cudnn-resnet', main: 'index.js' }));
    fs.writeFileSync(path.join(shim, 'index.js'), `module.exports = require(${JSON.stringify(libIndex)});\n`);
    env = { ...process.env, CUDNN_RESNET_CACHE: path.join(app, 'cache') };
    // The fine-tuning example expects torchvision's resnet50-11ad3fa6.pth, which cannot be
    // downloaded here: a stand-in with the same names, shapes and format takes its place.
    fs.copyFileSync(path.join(root, 'test', 'fixtures', 'pth', 'resnet50-standin.pth'), path.join(app, 'resnet50-11ad3fa6.pth'));
    // onnxruntime-node, which the ONNX example requires, as a reader would have installed it.
    fs.symlinkSync(path.join(root, 'node_modules', 'onnxruntime-node'), path.join(app, 'node_modules', 'onnxruntime-node'), 'dir');
  });
  after(() => fs.rmSync(app, { recursive: true, force: true }));

  // Records what Trainer.fit() resolved to, so the README's description of it is checked.
  const fitHook = (): string => {
    const hook = path.join(app, 'fit-hook.js');
    fs.writeFileSync(
      hook,
      `const fs = require('fs');
const { Trainer } = require(${JSON.stringify(libIndex)});
const fit = Trainer.prototype.fit;
Trainer.prototype.fit = async function () {
  const r = await fit.call(this);
  fs.writeFileSync(process.env.FIT_RESULT, JSON.stringify({ keys: Object.keys(r), checkpoint: r.checkpoint }));
  return r;
};
`,
    );
    return hook;
  };

  const runJs = (file: string, cwd: string, extraEnv: NodeJS.ProcessEnv = {}, preload: string[] = []) => {
    const r = spawnSync(process.execPath, [...preload.flatMap((p) => ['-r', p]), file], {
      cwd,
      env: { ...env, ...extraEnv },
      encoding: 'utf8',
      timeout: 280000,
    });
    assert.equal(r.status, 0, `${file} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };

  const blocks = codeBlocks(readme);

  it('the README has only js and sh blocks, each checked below', () => {
    assert.ok(blocks.length >= 5);
    for (const b of blocks) assert.ok(['js', 'sh'].includes(b.lang), `README line ${b.line}: a '${b.lang}' block`);
  });

  it('every block is run or checked: none is marked not run', () => {
    const skipped = blocks.filter((b) => b.notRun !== null);
    assert.deepEqual(
      skipped.map((b) => `README line ${b.line}: ${b.notRun}`),
      [],
      'README blocks marked <!-- not run -->',
    );
  });

  // In README order, in one scratch project: a block may use what an earlier one wrote (the
  // image-folder blocks read the photos/ folder the first of them writes).
  blocks
    .filter((b) => b.lang === 'js' && b.notRun === null)
    .forEach((b) => {
      it(`README line ${b.line}: the JavaScript runs as written (CommonJS, in a fresh project)`, () => {
        const file = path.join(app, `readme-${b.line}.js`);
        fs.writeFileSync(file, b.code);
        const result = path.join(app, `fit-${b.line}.json`);
        runJs(file, app, { FIT_RESULT: result }, [fitHook()]);
        if (b.code.includes('new Trainer(')) {
          // The fields the README lists for fit()'s result are the ones it has, and `checkpoint`
          // is the sidecar the prose says it is.
          const listed = /await trainer\.fit\(\); \/\/ \{ ([\w, ]+) \}/.exec(b.code);
          assert.ok(listed, 'the Trainer snippet lists the result fields');
          const got = JSON.parse(fs.readFileSync(result, 'utf8')) as { keys: string[]; checkpoint: string };
          assert.deepEqual(got.keys, listed[1].split(', '));
          assert.equal(path.basename(got.checkpoint), 'checkpoint.json');
          assert.match(prose, /fit\(\)` resolves to `\{ ([\w, ]+) \}`[^]*?the path of the checkpoint's `checkpoint\.json` sidecar/);
          assert.equal(/fit\(\)` resolves to `\{ ([\w, ]+) \}`/.exec(prose)![1], got.keys.join(', '));
        }
      });
    });

  blocks
    .filter((b) => b.lang === 'sh' && b.notRun === null)
    .forEach((b) => {
      it(`README line ${b.line}: every command names a real script, subcommand and options`, async () => {
        const cmds = shellCommands(b.code);
        assert.ok(cmds.length > 0);
        for (const c of cmds) await checkCommand(c);
      });
    });

  it("README prose: the demo's output folder is the one the CLI uses", async () => {
    const { DEMO_FOLDER } = await import('../../lib/cli/train');
    assert.ok(prose.includes(`no-argument demo writes to \`$CUDNN_RESNET_CACHE/${DEMO_FOLDER}\``), "the README names the demo's folder");
  });

  for (const example of fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.js'))) {
    it(`examples/${example} runs as written and leaves nothing in the repository`, () => {
      const cwd = fs.mkdtempSync(path.join(app, 'example-'));
      const out = runJs(path.join(root, 'examples', example), cwd);
      assert.ok(out.trim().length > 0, 'it printed nothing');
      // What it wrote is in its working folder, under names the repository ignores.
      const written = (fs.readdirSync(cwd, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(cwd, f)).isFile());
      assert.ok(written.length > 0, 'it wrote nothing');
      for (const f of written) {
        const r = spawnSync('git', ['check-ignore', '-q', '--no-index', f], { cwd: root });
        if (r.error) continue; // no git: nothing to check against
        assert.equal(r.status, 0, `examples/${example} writes '${f}', which a clone's .gitignore does not ignore`);
      }
    });
  }
});
