// The global seed stream: unseeded random constructors and layer initialisers draw their
// seeds from it, and manualSeed() makes a whole program reproducible.
import { checkSeed } from './checks';

// splitmix-style mixing in 32-bit halves, kept below 2^53 so seeds survive as JS numbers.
let seedState = 0x2545f491;

/** Seeds the generator that unseeded random constructors and layer initialisers draw from. */
export function manualSeed(seed: number): void {
  seedState = ((checkSeed(seed, 'manualSeed: seed') >>> 0) ^ Math.floor(seed / 2 ** 32)) >>> 0;
}

/** The next seed from the global generator. */
export function nextSeed(): number {
  seedState = (seedState + 0x9e3779b9) >>> 0;
  return deriveSeed(seedState, 0);
}

/** A seed in [0, 2^53) derived deterministically from a base seed and an index. */
export function deriveSeed(base: number, index: number): number {
  let h1 = (Math.imul((base >>> 0) ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul(index + 1, 0x27d4eb2f)) >>> 0;
  let h2 = (Math.floor(base / 2 ** 32) ^ Math.imul(index ^ 0x165667b1, 0x9e3779b1)) >>> 0;
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b) >>> 0;
  h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35) >>> 0;
  h2 = Math.imul(h2 ^ h1 ^ (h2 >>> 15), 0x2c1b3c6d) >>> 0;
  h2 = (h2 ^ (h2 >>> 12)) >>> 0;
  const lo = (h1 ^ (h1 >>> 16)) >>> 0;
  return (h2 & 0x1fffff) * 2 ** 32 + lo;
}
