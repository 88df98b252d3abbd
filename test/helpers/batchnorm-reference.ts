// A float64 spatial batch norm over logical NCHW data (forward with batch or running
// statistics, optional residual and ReLU; backward through the ReLU mask of y).

export interface BnRef {
  y: Float64Array;
  pre: Float64Array;
  mean: Float64Array;
  invstd: Float64Array;
  varUnbiased: Float64Array;
}

// y = act(gamma * (x - mean) * invstd + beta + residual) with batch statistics, or the given
// running statistics when `stats` is passed (inference).
export function bnRef(
  x: ArrayLike<number>,
  shape: number[],
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  eps: number,
  residual: ArrayLike<number> | null,
  relu: boolean,
  stats?: { mean: ArrayLike<number>; var: ArrayLike<number> },
): BnRef {
  const [N, C, H, W] = shape;
  const HW = H * W,
    M = N * HW;
  const mean = new Float64Array(C),
    invstd = new Float64Array(C),
    varUnbiased = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) s += x[(n * C + c) * HW + p];
    const m = s / M;
    let ss = 0;
    for (let n = 0; n < N; n++) for (let p = 0; p < HW; p++) ss += (x[(n * C + c) * HW + p] - m) ** 2;
    mean[c] = stats ? stats.mean[c] : m;
    invstd[c] = 1 / Math.sqrt((stats ? stats.var[c] : ss / M) + eps);
    varUnbiased[c] = ss / (M - 1);
  }
  const y = new Float64Array(x.length),
    pre = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / HW) % C;
    pre[i] = gamma[c] * (x[i] - mean[c]) * invstd[c] + beta[c] + (residual ? residual[i] : 0);
    y[i] = relu ? Math.max(pre[i], 0) : pre[i];
  }
  return { y, pre, mean, invstd, varUnbiased };
}

export function bnBackwardRef(
  dy: ArrayLike<number>,
  x: ArrayLike<number>,
  shape: number[],
  gamma: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  y: ArrayLike<number> | null,
) {
  const [N, C, H, W] = shape;
  const HW = H * W,
    M = N * HW;
  const g = Float64Array.from(dy, (v, i) => (y && !(y[i] > 0) ? 0 : v));
  const dgamma = new Float64Array(C),
    dbeta = new Float64Array(C),
    dx = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / HW) % C;
    dbeta[c] += g[i];
    dgamma[c] += g[i] * (x[i] - mean[c]) * invstd[c];
  }
  for (let i = 0; i < x.length; i++) {
    const c = Math.floor(i / HW) % C;
    const xhat = (x[i] - mean[c]) * invstd[c];
    dx[i] = ((gamma[c] * invstd[c]) / M) * (M * g[i] - dbeta[c] - xhat * dgamma[c]);
  }
  return { dx, dgamma, dbeta, dres: g };
}
