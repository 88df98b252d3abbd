// What the CUDA backend decides (conv algorithm choice, fallback and caching; fused batch-norm
// eligibility; the allocator's pools; what a graph capture refuses; how a cuDNN status is
// classified), tested on any machine: test/native/cuda/decisions/ is a small C++ program that
// runs native/cuda/policy/ and native/cuda/allocator.cpp against a scripted cuDNN and device
// memory. It is compiled here with the host C++ compiler (g++, or $CXX) and cached by content.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { packageRoot } from '../../../lib/native';

const root = packageRoot();
const compiler = process.env.CXX || 'g++';

function filesIn(dir: string, pattern: RegExp): string[] {
  return fs
    .readdirSync(path.join(root, dir))
    .filter((f) => pattern.test(f))
    .sort()
    .map((f) => path.join(root, dir, f));
}

const testDir = 'test/native/cuda/decisions';
const sources = [...filesIn(testDir, /\.cpp$/), ...filesIn('native/cuda/policy', /\.cpp$/), path.join(root, 'native/cuda/allocator.cpp')];
const inputs = [
  ...sources,
  ...filesIn(testDir, /\.h$/),
  ...filesIn('native/cuda/policy', /\.h$/),
  ...['native/cuda/allocator.h', 'native/cuda/cudnn_api.h', 'native/cuda/cudnn_types.h', 'native/core/errors.h', 'native/core/dtype.h'].map((f) =>
    path.join(root, f),
  ),
];
const flags = ['-std=c++17', '-O0'];

// Each case, with the defect of the earlier logic it would catch.
const cases: Array<[string, string]> = [
  ['conv_math_type_before_workspace_query', 'workspace sized under the previous math type (item 3)'],
  ['conv_search_scratch_not_kept', 'search workspace kept at the largest request (item 4)'],
  ['conv_search_failure_raises_and_caches_nothing', 'failed Find*Ex cached the heuristics (item 7)'],
  ['conv_declined_search_is_not_final', 'declined Find*Ex cached for good (item 7)'],
  ['conv_last_resort_is_deterministic', 'ALGO_0 (atomics) as the backward last resort (item 8)'],
  ['conv_cache_keyed_on_beta', 'cache key without beta (item 9)'],
  ['conv_accumulating_call_never_searches', 'a search overwriting a pre-filled output'],
  ['conv_fma_request_excludes_tensor_cores', 'TF32 candidates without permission'],
  ['conv_capture_rules', 'searching or growing the workspace inside a capture'],
  ['conv_out_of_memory_retries_after_emptying_cache', 'no retry after emptying the cache'],
  ['conv_environment_status_raises', 'a broken install taken for a refused algorithm (item 6)'],
  ['bn_fused_fp16_only', 'bf16 admitted to the fused kernels (item 1)'],
  ['bn_fused_zero_sizes_decline', 'zero workspace/reserve run as a silent plain BN (item 2)'],
  ['bn_fused_statuses', 'refusal vs broken install in the size queries'],
  ['allocator_two_live_graphs_do_not_share', "another live graph's blocks joining the capture (item 5)"],
  ['allocator_default_block_joins_capture', 'a default block reused while a graph reads it'],
  ['allocator_retired_pool_blocks_move_on', 'blocks of destroyed graphs stranded'],
  ['allocator_oom_retry_only_outside_capture', 'cudaFree inside a capture'],
  ['allocator_empty_cache_keeps_live_graph_pools', "a live graph's memory freed"],
  ['allocator_release_and_free', 'search scratch left cached'],
  ['status_refused_is_a_whitelist', 'all of 2000-3999 taken as "not supported" (item 6)'],
  ['status_environment_error_says_what_to_install', 'no install hint for environment failures (item 6)'],
  ['capture_refuses_syncing_calls', 'a syncing call let into a capture'],
  ['legacy_descriptor_size_limit', 'int overflow at legacy descriptors above 2^31 elements'],
];

function hasCompiler(): boolean {
  const r = spawnSync(compiler, ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

describe('CUDA backend decisions (scripted cuDNN, no GPU)', function () {
  let output = '';

  before(function () {
    if (!hasCompiler()) {
      console.log(`      skipped: no C++ compiler (${compiler}) to build the decision tests`);
      this.skip();
    }
    const hash = createHash('sha256');
    hash.update([compiler, ...flags].join(' '));
    for (const f of inputs) hash.update(f).update(fs.readFileSync(f));
    const dir = path.join(os.tmpdir(), 'cudnn-resnet-decisions');
    fs.mkdirSync(dir, { recursive: true });
    const exe = path.join(dir, `decisions-${hash.digest('hex').slice(0, 16)}`);
    if (!fs.existsSync(exe)) {
      const tmp = `${exe}.${process.pid}.tmp`;
      const r = spawnSync(compiler, [...flags, '-o', tmp, ...sources], { encoding: 'utf8' });
      assert.equal(r.status, 0, `compiling the decision tests failed:\n${r.stderr}`);
      fs.renameSync(tmp, exe);
    }
    const run = spawnSync(exe, [], { encoding: 'utf8' });
    output = run.stdout;
    assert.ok(run.status === 0 || run.status === 1, `the decision tests crashed (${run.status}):\n${run.stderr}`);
  });

  it('every case in the program is listed here, and none is missing', () => {
    const ran = output
      .split('\n')
      .map((l) => /^(?:not )?ok (\w+)/.exec(l)?.[1])
      .filter((n): n is string => !!n);
    assert.deepEqual([...ran].sort(), cases.map(([n]) => n).sort());
  });

  for (const [name, catches] of cases) {
    it(`${name} (catches: ${catches})`, () => {
      const line = output.split('\n').find((l) => l === `ok ${name}` || l.startsWith(`not ok ${name}:`));
      assert.ok(line, `${name} did not run`);
      assert.equal(line, `ok ${name}`);
    });
  }
});
