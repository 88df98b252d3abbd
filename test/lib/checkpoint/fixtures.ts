// The committed PyTorch fixtures (test/fixtures/pth, made by make_fixtures.py) and the
// input rule their expected logits were computed on.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Tensor } from '../../../lib/tensor';

function findFixtures(): string {
  for (let dir = __dirname; path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const p = path.join(dir, 'test', 'fixtures', 'pth');
    if (fs.existsSync(path.join(p, 'expected.json'))) return p;
  }
  throw new Error(`test/fixtures/pth not found above ${__dirname}`);
}

export const PTH_DIR = findFixtures();

export function fixture(name: string): string {
  return path.join(PTH_DIR, name);
}

export interface ExpectedLogits {
  model: string;
  classes: number;
  input_shape: number[];
  logits: number[][];
}

export function expectedLogits(name: string): ExpectedLogits {
  return JSON.parse(fs.readFileSync(fixture('expected.json'), 'utf8'))[name];
}

/** Element i of the NCHW input is float32(((i * 7919) % 251) / 125 - 1), as in make_fixtures.py. */
export function fixtureInput(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((i * 7919) % 251) / 125 - 1;
  return Tensor.fromArray(v, shape);
}

/** Largest |a - b| and the largest |b|, for tolerances relative to the logits' scale. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}
