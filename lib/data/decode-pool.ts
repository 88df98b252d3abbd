// The fast path, off the JS thread: a pool of worker threads that read a file, decode it
// (small PNGs with lib/data/png-decode.ts, JPEGs with libjpeg-turbo through
// lib/data/jpeg-decode.ts), draw the transform's plan from the sample's stream and carry it
// out with lib/data/resample.ts, all in one go. Work arrives in groups (the
// images one batch needs, or those requested in the same turn of the event loop), so the
// cost of a message is shared by many images. A job the fast path does not take (not a
// small, plain PNG or a JPEG the addon decodes; unreadable; a corrupt PNG) comes back as
// null and is decoded by sharp, which also reports the error; a JPEG libjpeg finds corrupt
// comes back as libjpeg's message; the choice depends only on the file, so a sample's pixels do not
// depend on how it was requested.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { JpegDecodeError, planJpeg } from './jpeg-decode';
import { decodePng, PNG_FAST_MAX_PIXELS, pngSize } from './png-decode';
import { Rng } from './prng';
import { applyPlan } from './resample';
import { CropPlan, identityPlan, Transform, transformFromSpec, TransformSpec } from './transforms';

export interface FastJob {
  file: string;
  /** State of the sample's random stream (Rng.state()). */
  rng: number[];
  maxPixels: number;
}

export interface FastResult {
  data: Uint8Array;
  width: number;
  height: number;
}

/** A file the fast path's decoder found corrupt: its message (the caller names the file). */
export interface FastFailure {
  error: string;
}

export type FastOutcome = FastResult | FastFailure | null;

interface Request {
  id: number;
  /** JSON of the transform's TransformSpec. */
  spec: string;
  jobs: FastJob[];
}

const transforms = new Map<string, Transform>();

/** A fast-path job's plan and the function that writes its pixels (later, into a shared buffer). */
interface Planned {
  plan: CropPlan;
  render(out: Uint8Array): Uint8Array;
}

function transformOf(spec: string): Transform {
  let transform = transforms.get(spec);
  if (!transform) {
    transform = transformFromSpec(JSON.parse(spec) as TransformSpec);
    transforms.set(spec, transform);
  }
  return transform;
}

function planJob(spec: string, job: FastJob): Planned | FastFailure | null {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(job.file);
  } catch {
    return null;
  }
  const planFor = (width: number, height: number): CropPlan => transformOf(spec).plan(identityPlan(width, height), Rng.fromState(job.rng));
  const size = pngSize(buf);
  if (!size) {
    try {
      return planJpeg(buf, planFor, job.maxPixels);
    } catch (e) {
      if (e instanceof JpegDecodeError) return { error: e.message };
      return null;
    }
  }
  if (size.width * size.height > Math.min(job.maxPixels, PNG_FAST_MAX_PIXELS)) return null;
  const img = decodePng(buf);
  if (!img) return null;
  const plan = planFor(img.width, img.height);
  return { plan, render: (out) => applyPlan(img, plan, out) };
}

function isFailure(p: Planned | FastFailure | null): p is FastFailure {
  return p !== null && 'error' in p;
}

/** One job, where it runs (a worker, or a test): the output pixels, a failure, or null for the sharp path. */
export function runFastJob(spec: string, job: FastJob): FastOutcome {
  const p = planJob(spec, job);
  if (!p || isFailure(p)) return p;
  return { data: p.render(new Uint8Array(p.plan.width * p.plan.height * 3)), width: p.plan.width, height: p.plan.height };
}

/** What a worker sends back: every output in one buffer (one transfer per message, not one per image). */
interface Reply {
  id: number;
  pixels: ArrayBuffer;
  /** Per job: [byte offset, width, height], a decoder's message for a corrupt file, or null for the sharp path. */
  outputs: ([number, number, number] | string | null)[];
}

/** The worker's side: answers each request with its results, pixel buffers transferred. */
export function serveRequests(port: import('node:worker_threads').MessagePort): void {
  port.on('message', (req: Request) => {
    const planned = req.jobs.map((j) => {
      try {
        return planJob(req.spec, j);
      } catch {
        return null;
      }
    });
    let bytes = 0;
    const outputs = planned.map((p) => {
      if (!p || isFailure(p)) return p && p.error;
      const at: [number, number, number] = [bytes, p.plan.width, p.plan.height];
      bytes += p.plan.width * p.plan.height * 3;
      return at;
    });
    const pixels = new ArrayBuffer(bytes);
    planned.forEach((p, i) => {
      const at = outputs[i];
      if (p && !isFailure(p) && Array.isArray(at)) p.render(new Uint8Array(pixels, at[0], at[1] * at[2] * 3));
    });
    port.postMessage({ id: req.id, pixels, outputs } satisfies Reply, [pixels]);
  });
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (r: FastOutcome[]) => void; count: number }>;
  /** Jobs sent and not yet answered. */
  load: number;
}

/** Worker threads doing fast-path jobs; started on first use, one per core at most. */
export class DecodePool {
  private readonly slots: Slot[] = [];
  private nextId = 0;
  private broken = false;
  private queued: { spec: string; job: FastJob; resolve: (r: FastOutcome) => void }[] = [];
  private flushScheduled = false;

  constructor(
    readonly size = Math.max(1, Math.min(8, os.availableParallelism())),
    private readonly script = path.join(__dirname, 'decode-worker.js'),
  ) {}

  /** False once a worker could not start or died: everything then goes to sharp. */
  get usable(): boolean {
    return !this.broken;
  }

  /** One job, sent with the others requested in the same turn of the event loop. */
  decode(spec: string, job: FastJob): Promise<FastOutcome> {
    if (this.broken) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.queued.push({ spec, job, resolve });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Many jobs of one transform, spread over the workers in a few messages. */
  async decodeMany(spec: string, jobs: FastJob[]): Promise<FastOutcome[]> {
    if (this.broken || jobs.length === 0) return jobs.map(() => null);
    const parts = Math.min(this.size, Math.max(1, Math.floor(jobs.length / 8)));
    const per = Math.ceil(jobs.length / parts);
    const chunks: Promise<FastOutcome[]>[] = [];
    for (let i = 0; i < jobs.length; i += per) chunks.push(this.send(spec, jobs.slice(i, i + per)));
    return (await Promise.all(chunks)).flat();
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = this.queued;
    this.queued = [];
    const bySpec = new Map<string, typeof queued>();
    for (const q of queued) bySpec.set(q.spec, [...(bySpec.get(q.spec) ?? []), q]);
    for (const [spec, group] of bySpec) {
      void this.decodeMany(
        spec,
        group.map((g) => g.job),
      ).then((results) => group.forEach((g, i) => g.resolve(results[i])));
    }
  }

  private send(spec: string, jobs: FastJob[]): Promise<FastOutcome[]> {
    const slot = this.slot();
    if (!slot) return Promise.resolve(jobs.map(() => null));
    const id = this.nextId++;
    return new Promise((resolve) => {
      slot.pending.set(id, { resolve, count: jobs.length });
      slot.load += jobs.length;
      slot.worker.ref(); // pending work keeps the process alive; an idle pool does not
      slot.worker.postMessage({ id, spec, jobs } satisfies Request);
    });
  }

  /** The least loaded worker, starting another while all are busy and the pool has room. */
  private slot(): Slot | null {
    const idle = this.slots.find((s) => s.load === 0);
    if (idle) return idle;
    if (this.slots.length < this.size) {
      try {
        return this.start();
      } catch {
        this.broken = true;
        return this.slots[0] ?? null;
      }
    }
    return this.slots.reduce((a, b) => (b.load < a.load ? b : a));
  }

  private start(): Slot {
    const worker = new Worker(this.script);
    const slot: Slot = { worker, pending: new Map(), load: 0 };
    worker.on('message', (msg: Reply) => {
      const p = slot.pending.get(msg.id);
      if (!p) return;
      slot.pending.delete(msg.id);
      slot.load -= p.count;
      if (slot.pending.size === 0) worker.unref();
      p.resolve(
        msg.outputs.map((at) => {
          if (at === null) return null;
          if (typeof at === 'string') return { error: at };
          return { data: new Uint8Array(msg.pixels, at[0], at[1] * at[2] * 3), width: at[1], height: at[2] };
        }),
      );
    });
    const fail = (): void => {
      // A worker that failed to load or died: its jobs and all later ones go to sharp.
      this.broken = true;
      for (const p of slot.pending.values()) p.resolve(new Array<null>(p.count).fill(null));
      slot.pending.clear();
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1); // 'error' is followed by 'exit'
    };
    worker.on('error', fail);
    worker.on('exit', fail);
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}

let shared: DecodePool | null = null;

/** The process's pool (one for every dataset: it is sized to the cores, not to a loader). */
export function decodePool(): DecodePool {
  shared ??= new DecodePool();
  return shared;
}
