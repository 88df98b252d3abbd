// See jpeg.h. libjpeg reports a fatal error by calling error_exit, whose default ends the
// process; ours longjmp()s back into run_decoder, a C-style function that owns nothing with a
// destructor, so the jump skips no C++ clean-up. Everything libjpeg allocates (the row buffer
// included) comes from its own pools and goes with jpeg_destroy_decompress.
//
// The error manager is set up here rather than by jpeg_std_error: that one lives in
// jerror.c, whose object in the static library refers to stderr in a way a shared object
// cannot link (the rest of the library links into the addon fine). The messages are the
// library's own table, built from jerror.h.
#include "jpeg.h"

#include <algorithm>
#include <cstring>

#ifdef CR_HAVE_LIBJPEG
#include <csetjmp>
#include <cstdio>  // jpeglib.h needs FILE and size_t first

#include <jpeglib.h>
#endif

namespace cr::jpeg {

#ifndef CR_HAVE_LIBJPEG

const char* version() { return ""; }

Result read_info(const uint8_t*, size_t, uint64_t, Info* info) {
  const char* why = "this build has no JPEG decoder (libjpeg-turbo was not found)";
  if (info) info->unsupported = why;
  return {Status::Unsupported, why};
}

Result decode(const uint8_t*, size_t, const Window&, uint64_t, uint8_t*) {
  return {Status::Unsupported, "this build has no JPEG decoder (libjpeg-turbo was not found)"};
}

#else

#define CR_STRINGIFY2(x) #x
#define CR_STRINGIFY(x) CR_STRINGIFY2(x)

const char* version() { return CR_STRINGIFY(LIBJPEG_TURBO_VERSION); }

namespace {

// jerror.h names two strings from jversion.h, which is not installed.
#define JVERSION "libjpeg-turbo " CR_STRINGIFY(LIBJPEG_TURBO_VERSION)
#define JCOPYRIGHT_SHORT ""
#define JMESSAGE(code, text) text,
const char* const kMessages[] = {
#include <jerror.h>
    nullptr};
#undef JMESSAGE
constexpr int kMessageCount = static_cast<int>(sizeof kMessages / sizeof kMessages[0]) - 1;

struct ErrorManager {
  jpeg_error_mgr pub;  // first, so libjpeg's pointer to it is a pointer to the whole
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  const char* reason;  // our own reason for stopping (unsupported file, bad window)
  Status status;
};

extern "C" void format_message(j_common_ptr c, char* buffer) {
  const jpeg_error_mgr* err = c->err;
  const int code = err->msg_code;
  if (code <= 0 || code >= kMessageCount) {
    snprintf(buffer, JMSG_LENGTH_MAX, "libjpeg message %d", code);
    return;
  }
  const char* text = kMessages[code];
  if (strstr(text, "%s"))
    snprintf(buffer, JMSG_LENGTH_MAX, text, err->msg_parm.s);
  else {
    const int* p = err->msg_parm.i;
    snprintf(buffer, JMSG_LENGTH_MAX, text, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
  }
}

extern "C" void on_error(j_common_ptr c) {
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  format_message(c, e->message);
  e->status = Status::Corrupt;
  longjmp(e->jump, 1);
}

// Level -1 is a warning (corrupt data, premature end of file): counted, the first one kept.
// Higher levels are trace messages, never printed.
extern "C" void on_message(j_common_ptr c, int level) {
  if (level >= 0) return;
  auto* e = reinterpret_cast<ErrorManager*>(c->err);
  if (c->err->num_warnings++ == 0) format_message(c, e->message);
}

extern "C" void print_nothing(j_common_ptr) {}

extern "C" void reset_errors(j_common_ptr c) {
  c->err->num_warnings = 0;
  c->err->msg_code = 0;
}

void init_errors(ErrorManager* e) {
  memset(&e->pub, 0, sizeof e->pub);
  e->pub.error_exit = on_error;
  e->pub.emit_message = on_message;
  e->pub.output_message = print_nothing;
  e->pub.format_message = format_message;
  e->pub.reset_error_mgr = reset_errors;
  e->pub.jpeg_message_table = kMessages;
  e->pub.last_jpeg_message = kMessageCount - 1;
  e->message[0] = '\0';
  e->reason = nullptr;
  e->status = Status::Ok;
}

const uint8_t kIccTag[12] = {'I', 'C', 'C', '_', 'P', 'R', 'O', 'F', 'I', 'L', 'E', 0};

// Why this file goes to another decoder, or nullptr: colour spaces that need a conversion the
// sharp path does differently (CMYK, YCCK) and embedded colour profiles.
const char* unsupported_reason(j_decompress_ptr cinfo) {
  if (cinfo->jpeg_color_space != JCS_GRAYSCALE && cinfo->jpeg_color_space != JCS_YCbCr &&
      cinfo->jpeg_color_space != JCS_RGB)
    return "colour space other than grey, YCbCr or RGB (CMYK, YCCK)";
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
    if (m->marker == JPEG_APP0 + 2 && m->data_length >= sizeof kIccTag && memcmp(m->data, kIccTag, sizeof kIccTag) == 0)
      return "embedded ICC colour profile";
  }
  return nullptr;
}

// Reads the header and, when out is not null, decodes `window` into out. C-style on purpose
// (see the top of the file). Returns with e->status and e->message set.
void run_decoder(const uint8_t* data, size_t size, const Window* window, uint64_t max_pixels, uint8_t* out, Info* info,
                 ErrorManager* e) {
  jpeg_decompress_struct cinfo;
  init_errors(e);
  cinfo.err = &e->pub;
  jpeg_create_decompress(&cinfo);
  if (setjmp(e->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 2, sizeof kIccTag);
  jpeg_read_header(&cinfo, TRUE);
  if (static_cast<uint64_t>(cinfo.image_width) * cinfo.image_height > max_pixels) {
    snprintf(e->message, sizeof e->message, "%u x %u pixels, more than the limit of %llu", cinfo.image_width,
             cinfo.image_height, static_cast<unsigned long long>(max_pixels));
    e->status = Status::Corrupt;
  } else if (const char* why = unsupported_reason(&cinfo)) {
    e->reason = why;
    e->status = Status::Unsupported;
  } else if (info) {
    info->width = static_cast<int>(cinfo.image_width);
    info->height = static_cast<int>(cinfo.image_height);
    info->components = cinfo.num_components;
    info->progressive = jpeg_has_multiple_scans(&cinfo);
  }
  if (e->status != Status::Ok || !out) {
    if (e->status == Status::Ok && e->pub.num_warnings > 0) e->status = Status::Corrupt;
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  cinfo.out_color_space = JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = static_cast<unsigned>(window->denom);
  jpeg_calc_output_dimensions(&cinfo);
  const JDIMENSION left = window->left, top = window->top, width = window->width, height = window->height;
  if (left + width > cinfo.output_width || top + height > cinfo.output_height) {
    e->reason = "the window does not fit the scaled image";
    e->status = Status::BadWindow;
    jpeg_destroy_decompress(&cinfo);
    return;
  }
  jpeg_start_decompress(&cinfo);
  // The crop starts at an iMCU boundary at or left of what is asked and is at least as wide.
  // Upsampled chroma at its edges lacks the neighbours outside it, so a margin is decoded
  // too: the window's pixels are then those of the full decode.
  const JDIMENSION margin = 8;
  JDIMENSION crop_left = left > margin ? left - margin : 0;
  JDIMENSION crop_width = std::min(cinfo.output_width, left + width + margin) - crop_left;
  if (crop_width < cinfo.output_width) jpeg_crop_scanline(&cinfo, &crop_left, &crop_width);
  JSAMPARRAY row =
      (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE, cinfo.output_width * 3, 1);
  if (top > 0) jpeg_skip_scanlines(&cinfo, top);
  for (JDIMENSION y = 0; y < height; y++) {
    jpeg_read_scanlines(&cinfo, row, 1);
    memcpy(out + static_cast<size_t>(y) * width * 3, row[0] + static_cast<size_t>(left - crop_left) * 3,
           static_cast<size_t>(width) * 3);
  }
  // Skipping to the very end would not read the remaining data, so skip to the last row and
  // decode that one: the data after the window is read, and a corrupt or truncated file fails
  // whatever window was asked for.
  const JDIMENSION remaining = cinfo.output_height - cinfo.output_scanline;
  if (remaining > 1) jpeg_skip_scanlines(&cinfo, remaining - 1);
  if (remaining > 0) jpeg_read_scanlines(&cinfo, row, 1);
  jpeg_finish_decompress(&cinfo);
  if (e->pub.num_warnings > 0) e->status = Status::Corrupt;
  jpeg_destroy_decompress(&cinfo);
}

Result to_result(const ErrorManager& e) {
  if (e.status == Status::Ok) return {};
  return {e.status, e.reason ? std::string(e.reason) : std::string(e.message)};
}

}  // namespace

Result read_info(const uint8_t* data, size_t size, uint64_t max_pixels, Info* info) {
  ErrorManager e;
  run_decoder(data, size, nullptr, max_pixels, nullptr, info, &e);
  if (e.status == Status::Unsupported && info) info->unsupported = e.reason;
  return to_result(e);
}

Result decode(const uint8_t* data, size_t size, const Window& window, uint64_t max_pixels, uint8_t* out) {
  ErrorManager e;
  run_decoder(data, size, &window, max_pixels, out, nullptr, &e);
  return to_result(e);
}

#endif  // CR_HAVE_LIBJPEG

}  // namespace cr::jpeg
