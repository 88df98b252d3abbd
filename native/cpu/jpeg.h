// JPEG decoding with libjpeg-turbo, linked statically when the build finds it (CR_HAVE_LIBJPEG):
// a window of the image, DCT-scaled by 1/2, 1/4 or 1/8 where asked, to 8-bit RGB. The image
// loader (lib/data/jpeg-decode.ts) plans the window and resamples it in JavaScript.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace cr::jpeg {

struct Info {
  int width = 0;
  int height = 0;
  int components = 0;
  bool progressive = false;
  // Why the decoder leaves this file to another one (CMYK, YCCK, an ICC profile), or nullptr.
  const char* unsupported = nullptr;
};

// A window of the image scaled by 1 / denom (denom 1, 2, 4 or 8): left, top, width and height
// in pixels of the scaled image, whose size is ceil(width / denom) x ceil(height / denom).
struct Window {
  int denom = 1;
  int left = 0;
  int top = 0;
  int width = 0;
  int height = 0;
};

enum class Status { Ok, Corrupt, Unsupported, BadWindow };

struct Result {
  Status status = Status::Ok;
  // libjpeg's message for a failure or for the first warning (corrupt data, premature end),
  // or the reason for Unsupported / BadWindow.
  std::string message;
};

// The libjpeg-turbo version linked in ("2.1.5"), or "" when built without it.
const char* version();

// Header only; images with more than max_pixels pixels are Corrupt (refused before any allocation).
Result read_info(const uint8_t* data, size_t size, uint64_t max_pixels, Info* info);

// Decodes `window` into out (window.width * window.height * 3 bytes). The rest of the file is
// still read, so a truncated or corrupt file fails whatever window is asked for; any libjpeg
// warning fails the decode too.
Result decode(const uint8_t* data, size_t size, const Window& window, uint64_t max_pixels, uint8_t* out);

}  // namespace cr::jpeg
