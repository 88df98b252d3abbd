// The addon links GCC's C++ runtime statically (CMakeLists.txt), so that it does not need a
// newer libstdc++ than the system has. That runtime, built against the build machine's
// glibc, refers to arc4random (glibc 2.36) from std::random_device, which the addon never
// uses; this private definition satisfies the reference so the binary still loads on
// glibc 2.34 (RHEL/Rocky 9). getrandom exists since glibc 2.25.
#include <sys/random.h>

#include <cstdint>

extern "C" __attribute__((visibility("hidden"))) uint32_t arc4random(void) {
  uint32_t v = 0;
  while (getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) {
  }
  return v;
}
