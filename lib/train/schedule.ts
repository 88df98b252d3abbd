// Learning-rate schedules by name, for the CLI and the Trainer options:
//   paper              lr, /10 at 50% and 75% of the run: for the paper's 64k iterations
//                      exactly its 32k and 48k (He et al., sec. 4.2)
//   multistep:I1,I2..  lr, /10 at the given iterations
//   epochs:E1,E2..     lr, /10 at the given epochs
//   cosine             cosine decay from lr to 0 over the run
//   constant           lr throughout
import { cosine, LRSchedule, multiStep, stepByEpochs } from '../optim/schedules';

export type ScheduleSpec = string | LRSchedule;

export function parseSchedule(spec: ScheduleSpec, lr: number, totalIterations: number, itersPerEpoch: number): LRSchedule {
  if (typeof spec === 'object' && spec !== null && typeof spec.lrAt === 'function') return spec;
  if (typeof spec !== 'string') throw new TypeError(`schedule must be a name or an object with lrAt(it), got ${String(spec)}`);
  const [name, arg] = spec.split(':', 2);
  const list = (what: string): number[] => {
    if (!arg) throw new RangeError(`schedule '${name}' needs a list, e.g. ${name}:${what}`);
    const out = arg.split(',').map((v) => Number(v));
    if (out.some((v) => !Number.isInteger(v) || v < 0)) throw new RangeError(`schedule '${spec}': '${arg}' is not a list of non-negative integers`);
    return out;
  };
  switch (name) {
    case 'paper': {
      const ms = [Math.round(totalIterations * 0.5), Math.round(totalIterations * 0.75)].filter((m, i, a) => m > 0 && (i === 0 || m > a[i - 1]));
      return multiStep({ lr, milestones: ms });
    }
    case 'multistep':
      return multiStep({ lr, milestones: list('32000,48000') });
    case 'epochs':
      return stepByEpochs({ lr, epochs: list('82,123'), itersPerEpoch });
    case 'cosine':
      return cosine({ lr, totalIters: Math.max(1, totalIterations) });
    case 'constant':
      return { lrAt: () => lr };
    default:
      throw new RangeError(`unknown schedule '${spec}': use paper, multistep:I1,I2, epochs:E1,E2, cosine or constant`);
  }
}

/** A named schedule in words with its drop points, e.g. "paper: 0.1, /10 at iterations 8 and 12". */
export function describeSchedule(spec: ScheduleSpec, lr: number, totalIterations: number, itersPerEpoch: number): string {
  if (typeof spec !== 'string') return 'custom schedule';
  const [name] = spec.split(':', 1);
  const list = (xs: number[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`);
  switch (name) {
    case 'paper':
    case 'multistep':
    case 'epochs': {
      const s = parseSchedule(spec, lr, totalIterations, itersPerEpoch);
      const drops: number[] = [];
      for (let it = 1, prev = s.lrAt(0); it <= totalIterations; it++) {
        const cur = s.lrAt(it);
        if (cur !== prev) drops.push(it);
        prev = cur;
      }
      return drops.length === 0 ? `${spec}: ${lr} throughout` : `${spec}: ${lr}, /10 at iteration${drops.length > 1 ? 's' : ''} ${list(drops)}`;
    }
    case 'cosine':
      return `cosine: ${lr} decaying to 0 at iteration ${totalIterations}`;
    default:
      return `${spec}: ${lr} throughout`;
  }
}
