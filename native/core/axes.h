// Shape arithmetic shared by the tensor-math families (arith, reduce, softmax, index): every
// one of them works on the logical row-major order (NCHW for 4-D), seen either as
// [outer, n, inner] around one axis or as a broadcast of two shapes.
#pragma once
#include <cstdint>

#include "tensor.h"

namespace cr {

// Elementwise binary ops; the bindings map the JS names ('add', ...) onto these.
enum class ArithOp : int { Add = 0, Sub, Mul, Div };
// x op s, or s op x for the reversed forms; Pow is x ** s.
enum class ScalarOp : int { Add = 0, Sub, RSub, Mul, Div, RDiv, Pow };
enum class UnaryOp : int { Neg = 0, Exp, Log, Sqrt, Abs, Sign };
enum class ReduceMode : int { Sum = 0, Mean };

// A shape viewed as [outer, n, inner] around `axis` (0 <= axis < rank).
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};

inline AxisSplit split_at(const Shape& s, int axis) {
  AxisSplit a;
  for (int k = 0; k < static_cast<int>(s.size()); k++) {
    if (k < axis)
      a.outer *= s[k];
    else if (k == axis)
      a.n = s[k];
    else
      a.inner *= s[k];
  }
  return a;
}

// NumPy broadcasting: shapes aligned at the right, each pair of sizes equal or one of them 1.
// Returns false (and leaves `out` unspecified) when they do not broadcast.
inline bool broadcast_shapes(const Shape& a, const Shape& b, Shape& out) {
  size_t r = a.size() > b.size() ? a.size() : b.size();
  out.assign(r, 1);
  for (size_t k = 0; k < r; k++) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1) return false;
    out[k] = da == 1 ? db : da;
  }
  return true;
}

// Row-major strides of `in` seen through the broadcast `out` shape (rank(out) >= rank(in)):
// 0 where `in` is broadcast (missing or size 1), so element i of out reads
// sum_k coord_k(i) * stride[k] of in.
inline Shape broadcast_strides(const Shape& in, const Shape& out) {
  Shape st(out.size(), 0);
  int64_t s = 1;
  for (size_t k = out.size(); k-- > 0;) {
    size_t lead = out.size() - in.size();
    if (k < lead) break;
    int64_t d = in[k - lead];
    st[k] = d == 1 ? 0 : s;
    s *= d;
  }
  return st;
}

}  // namespace cr
