// Argument readers of the tensor-math bindings (arith, reduce, softmax, index): axes in
// PyTorch's convention (negative counts from the end), op names chosen from a list, and
// int32 index tensors checked against the size they index.
#pragma once
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../core/backend.h"
#include "../core/errors.h"
#include "args.h"

namespace crjs {

// A JS number as JS would print it (integers without a fraction).
inline std::string number_str(double d) {
  if (std::fabs(d) < 1e15 && d == std::floor(d)) return std::to_string(static_cast<int64_t>(d));
  return std::to_string(d);
}

// An integer in [-rank, rank), returned in [0, rank).
inline int read_axis(const Args& a, size_t i, const char* name, int rank) {
  int64_t v = a.integer(i, name, -rank, rank - 1);
  return static_cast<int>(v < 0 ? v + rank : v);
}

// A non-empty array of distinct axes (after normalisation), returned sorted.
inline std::vector<int> read_axes(const Napi::CallbackInfo& info, const Args& a, size_t i, const char* name, int rank) {
  Napi::Value v = info[i];
  if (!v.IsArray()) cr::throw_type(a.op(), name, "must be an array of axes");
  Napi::Array arr = v.As<Napi::Array>();
  if (arr.Length() < 1 || arr.Length() > static_cast<uint32_t>(rank))
    cr::throw_range(a.op(), name,
                    "must hold 1 to " + std::to_string(rank) + " axes, got " + std::to_string(arr.Length()));
  std::vector<int> out;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value e = arr.Get(k);
    std::string n = std::string(name) + "[" + std::to_string(k) + "]";
    if (!e.IsNumber()) cr::throw_type(a.op(), n, "must be an integer axis");
    double d = e.As<Napi::Number>().DoubleValue();
    if (d != std::floor(d) || d < -rank || d >= rank)
      cr::throw_range(
          a.op(), n,
          "must be an integer in [" + std::to_string(-rank) + ", " + std::to_string(rank) + "), got " + number_str(d));
    int ax = static_cast<int>(d < 0 ? d + rank : d);
    if (std::find(out.begin(), out.end(), ax) != out.end())
      cr::throw_range(a.op(), name, "names axis " + std::to_string(ax) + " twice");
    out.push_back(ax);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One of the named choices.
template <typename E>
E read_choice(const Args& a, size_t i, const char* name, const std::vector<std::pair<const char*, E>>& choices) {
  std::string s = a.string(i, name);
  std::string known;
  for (const auto& c : choices) {
    if (s == c.first) return c.second;
    known += (known.empty() ? "'" : ", '") + std::string(c.first) + "'";
  }
  cr::throw_range(a.op(), name, "must be one of " + known + ", got '" + s + "'");
}

// int32, memory order = logical order, every value in [0, n).
inline void expect_indices(const char* op, const char* name, const cr::Tensor& idx, int64_t n) {
  expect_dtype(op, name, idx, cr::DType::I32);
  if (idx.rank() == 4 && idx.layout != cr::Layout::NCHW) cr::throw_type(op, name, "must be NCHW, got NHWC");
  std::vector<int32_t> host(static_cast<size_t>(idx.numel()));
  const int32_t* p = idx.data<int32_t>();
  if (idx.device().type != cr::DeviceType::CPU) {
    cr::backend_for(idx.device()).copy_to_host(idx, host.data());
    p = host.data();
  }
  for (int64_t k = 0; k < idx.numel(); k++)
    if (p[k] < 0 || p[k] >= n)
      cr::throw_range(
          op, name,
          "values must be in [0, " + std::to_string(n) + "), got " + std::to_string(p[k]) + " at " + std::to_string(k));
}

}  // namespace crjs
