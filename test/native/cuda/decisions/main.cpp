// Runs every registered decision test; see harness.h for the output format.
#include <cstdio>
#include <exception>

#include "harness.h"

int main() {
  int failed = 0;
  for (const dt::Case& c : dt::cases()) {
    try {
      c.fn();
      std::printf("ok %s\n", c.name);
    } catch (const std::exception& e) {
      failed++;
      std::printf("not ok %s: %s\n", c.name, e.what());
    }
  }
  std::printf("%d of %zu failed\n", failed, dt::cases().size());
  return failed == 0 ? 0 : 1;
}
