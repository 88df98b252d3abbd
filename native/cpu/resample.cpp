// See resample.h. Sums are doubles and the intermediate rows floats, as in JavaScript (numbers
// are doubles, the row buffer a Float32Array); the store rounds half to even and clamps, as a
// Uint8ClampedArray does; -ffp-contract=off keeps the compiler from fusing a * b + c.
#include "resample.h"

#include <algorithm>

namespace cr::resample {

namespace {

// Half to even, without nearbyint (a library call that saves the FP environment).
inline uint8_t clamp_round(double v) {
  if (!(v > 0)) return 0;  // NaN too
  if (v >= 255) return 255;
  const int n = static_cast<int>(v);                                                // floor, v being positive
  const double d = v - n;                                                           // exact
  const int up = static_cast<int>(d > 0.5) | (static_cast<int>(d == 0.5) & n & 1);  // no branch: d is random
  return static_cast<uint8_t>(n + up);
}

}  // namespace

void resample_rgb(const Image& src, const Axis& x, const Axis& y, uint8_t* out, int out_width, int out_x, int out_y,
                  bool flip, std::vector<float>& scratch) {
  const int cols = x.n, rows = y.n;
  int row_lo = y.start[0], row_hi = y.start[0] + y.count[0];
  for (int j = 1; j < rows; j++) {
    row_lo = std::min(row_lo, static_cast<int>(y.start[j]));
    row_hi = std::max(row_hi, static_cast<int>(y.start[j] + y.count[j]));
  }
  const size_t stride = static_cast<size_t>(cols) * 3;
  scratch.resize(static_cast<size_t>(row_hi - row_lo) * stride);
  float* mid = scratch.data();
  for (int sy = row_lo; sy < row_hi; sy++) {
    const uint8_t* srow = src.data + static_cast<size_t>(sy - src.origin_y) * src.width * 3;
    float* m = mid + static_cast<size_t>(sy - row_lo) * stride;
    for (int i = 0; i < cols; i++, m += 3) {
      const uint8_t* p = srow + static_cast<size_t>(x.start[i] - src.origin_x) * 3;
      const float* w = x.weights + static_cast<size_t>(i) * x.max_taps;
      double r = 0, g = 0, b = 0;
      for (int k = 0; k < x.count[i]; k++, p += 3) {
        const double wt = w[k];
        r += wt * p[0];
        g += wt * p[1];
        b += wt * p[2];
      }
      m[0] = static_cast<float>(r);
      m[1] = static_cast<float>(g);
      m[2] = static_cast<float>(b);
    }
  }
  // The vertical pass runs over whole rows (tap by tap, each sum still in tap order), which
  // the compiler vectorises; the sums are those of a loop per pixel.
  std::vector<double> acc(stride);
  for (int j = 0; j < rows; j++) {
    const float* w = y.weights + static_cast<size_t>(j) * y.max_taps;
    const float* m0 = mid + static_cast<size_t>(y.start[j] - row_lo) * stride;
    std::fill(acc.begin(), acc.end(), 0.0);
    double* a = acc.data();
    for (int k = 0; k < y.count[j]; k++) {
      const double wt = w[k];
      const float* p = m0 + static_cast<size_t>(k) * stride;
      for (size_t e = 0; e < stride; e++) a[e] += wt * p[e];
    }
    uint8_t* orow = out + static_cast<size_t>(out_y + j) * out_width * 3;
    if (!flip) {
      uint8_t* o = orow + static_cast<size_t>(out_x) * 3;
      for (size_t e = 0; e < stride; e++) o[e] = clamp_round(a[e]);
    } else {
      for (int i = 0; i < cols; i++) {
        uint8_t* o = orow + static_cast<size_t>(out_width - 1 - (out_x + i)) * 3;
        o[0] = clamp_round(a[i * 3]);
        o[1] = clamp_round(a[i * 3 + 1]);
        o[2] = clamp_round(a[i * 3 + 2]);
      }
    }
  }
}

}  // namespace cr::resample
