// The Trainer's captured training step on a real model, against eager steps from the same
// start: ResNet-20, one precision per run, batches in the layout the Trainer would use
// (activationLayout: NHWC for 16-bit on CUDA). Exits non-zero when a captured loss leaves the
// eager one's tolerance, or when on a cuda device the step did not end up captured.
//   node dist/test/device/captured_step.js --device cuda:0 --precision bf16 [--batch 128] [--steps 12]
// On the CPU the helper runs eagerly by design; the comparison then checks the fallback.
import { create as createModel } from '../../lib/models/resnet';
import { native } from '../../lib/native';
import { SGD } from '../../lib/optim/sgd';
import { Tensor, tidy } from '../../lib/tensor';
import { activationDType, activationLayout, Precision, PRECISIONS } from '../../lib/train/device';
import { MixedPrecision } from '../../lib/train/amp';
import { capturedTrainingStep, trainingStepFn, TrainingParts } from '../../lib/train/training-step';
import { rng } from '../helpers/reference';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const device = option('device', 'cuda:0');
const precision = option('precision', 'fp32') as Precision;
if (!PRECISIONS.includes(precision)) throw new RangeError(`--precision must be one of ${PRECISIONS.join(', ')}`);
const batch = Number(option('batch', device === 'cpu' ? '8' : '128'));
const steps = Number(option('steps', '12'));
// cuDNN may pick different (equally valid) algorithms for the eager and the captured run, and
// 16-bit sums round differently: the tolerances of the captured-step tests.
const rtol = precision === 'fp32' ? 1e-3 : 2e-3;
const atol = precision === 'fp32' ? 1e-5 : 1e-4;

function batches(): { x: Tensor; y: Tensor }[] {
  const r = rng(31);
  const layout = activationLayout(precision, device);
  return Array.from({ length: steps }, () => {
    const x32 = Tensor.fromArray(
      Float32Array.from({ length: batch * 3 * 32 * 32 }, () => r() * 2 - 1),
      [batch, 3, 32, 32],
      { device },
    );
    const x = x32.to({ dtype: activationDType(precision), layout });
    x32.dispose();
    const y = Tensor.fromArray(
      Int32Array.from({ length: batch }, () => Math.floor(r() * 10)),
      [batch],
      { dtype: 'int32', device },
    );
    return { x, y };
  });
}

function parts(): TrainingParts & { dispose(): void } {
  const model = createModel('resnet20', { classes: 10, seed: 7, device });
  model.train();
  const mp = new MixedPrecision(model, precision);
  const opt = new SGD(mp.masters, { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  return {
    model,
    mp,
    opt,
    dispose: () => {
      opt.dispose();
      mp.dispose();
      model.dispose();
    },
  };
}

function main(): number {
  const data = batches();
  const eager = parts();
  const fn = trainingStepFn(eager);
  const want = data.map((b) => tidy(() => fn(b.x, b.y)[0].item()));
  eager.dispose();

  const cap = parts();
  const log: string[] = [];
  const cs = capturedTrainingStep(cap, { log: (m) => log.push(m) });
  const t0 = process.hrtime.bigint();
  const got = data.map((b) => cs.step(b.x, b.y)[0].item());
  if (device !== 'cpu') native().synchronize(device);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / steps;
  const summary =
    `resnet20 ${precision} ${activationLayout(precision, device)} batch ${batch} on ${device}: mode ${cs.mode}, ` +
    `${cs.captures} capture(s), ${cs.replays} replay(s), ${ms.toFixed(2)} ms/step incl. warm-up and capture`;
  const { mode, eagerReason } = cs;
  cs.dispose();
  cap.dispose();
  for (const b of data) {
    b.x.dispose();
    b.y.dispose();
  }

  if (log.length) console.log(`log: ${log.join(' | ')}`);
  let bad = 0;
  for (let i = 0; i < steps; i++) {
    const ok = Number.isFinite(got[i]) && Math.abs(got[i] - want[i]) <= rtol * Math.abs(want[i]) + atol;
    if (!ok) bad++;
    console.log(`step ${String(i).padStart(2)}: eager ${want[i].toFixed(6)}  captured ${got[i].toFixed(6)}${ok ? '' : '  MISMATCH'}`);
  }
  // The summary, then what failed: the last line is the verdict's note.
  console.log(summary);
  if (bad) console.log(`FAIL: ${bad} of ${steps} captured losses differ from eager beyond ${rtol} relative`);
  if (device !== 'cpu' && mode !== 'captured') {
    console.log(`FAIL: the step ran ${mode} on ${device}: ${eagerReason ?? ''}`);
    bad++;
  }
  return bad ? 1 : 0;
}

process.exitCode = main();
