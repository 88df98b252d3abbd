// The data pipeline's own seeded generator: xoshiro128** (Blackman & Vigna), seeded through
// a splitmix32-style hash of (seed, stream words). Stream words let one user seed give
// independent, reproducible sequences per purpose and epoch (shuffle of epoch 3, crops of
// epoch 3, ...) without any of them depending on how far another was consumed.

/** Finaliser of splitmix32 / murmur3: a bijective avalanche of a 32-bit word. */
import { badArg, describe } from '../checks';

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /**
   * @param seed an integer in [0, 2^53)
   * @param streams further integers in [0, 2^32) naming an independent sequence
   */
  constructor(seed: number, ...streams: number[]) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw badArg('range', 'Rng: seed', `must be an integer in [0, 2^53), got ${describe(seed)}`);
    for (const s of streams) {
      if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) throw badArg('range', 'Rng: streams', `must be integers in [0, 2^32), got ${describe(s)}`);
    }
    const words = [seed >>> 0, Math.floor(seed / 0x100000000) >>> 0, streams.length, ...streams];
    let h = 0x9e3779b9;
    for (const w of words) h = mix32((h ^ w) + 0x9e3779b9);
    // splitmix32 expands the hash into the four state words.
    const next = (): number => {
      h = (h + 0x9e3779b9) >>> 0;
      return mix32(h);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the one forbidden state
  }

  /** A copy at the current state: both then produce the same sequence. */
  clone(): Rng {
    const r = Object.create(Rng.prototype) as Rng;
    r.s0 = this.s0;
    r.s1 = this.s1;
    r.s2 = this.s2;
    r.s3 = this.s3;
    return r;
  }

  /** The four state words (to hand the stream to another thread). */
  state(): [number, number, number, number] {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** The generator at a state() taken elsewhere. */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((v) => v >>> 0);
    return r;
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  nextFloat(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32, without modulo bias (rejection). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 4294967296) throw badArg('range', 'Rng.nextInt: n', `must be an integer in [1, 2^32], got ${describe(n)}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** A standard normal draw (Box-Muller; one of the pair is discarded for simplicity). */
  nextNormal(): number {
    const u = 1 - this.nextFloat(); // (0, 1]: log stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.nextFloat());
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A uniformly random permutation of 0 .. n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
