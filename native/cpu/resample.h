// The resize filter of lib/data/resample.ts (two passes of precomputed taps over RGB bytes),
// for the JPEG fast path, where it runs after the addon's decoder. Same arithmetic, same
// order: the bytes equal the JavaScript version's.
#pragma once
#include <cstdint>
#include <vector>

namespace cr::resample {

// Taps of one axis: output position i reads count[i] source pixels from start[i] on, with
// weights[i * max_taps + k].
struct Axis {
  const int32_t* start;
  const int32_t* count;
  const float* weights;
  int max_taps;
  int n;
};

struct Image {
  const uint8_t* data;
  int width;
  int height;
  int origin_x;  // source coordinates of data's first pixel
  int origin_y;
};

// Writes the cols x rows result at (out_x, out_y) of `out` (out_width pixels wide), mirrored
// within out_width when flip is set. Callers check the taps against the image first.
void resample_rgb(const Image& src, const Axis& x, const Axis& y, uint8_t* out, int out_width, int out_x, int out_y,
                  bool flip, std::vector<float>& scratch);

}  // namespace cr::resample
