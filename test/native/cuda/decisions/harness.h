// A minimal test harness for the decision tests: TEST(name) registers a case, CHECK fails
// it with the expression and line. main() runs every case and prints "ok NAME" or
// "not ok NAME: why" per case (decisions.test.ts reads these lines).
#pragma once
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace dt {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> v;
  return v;
}
struct Register {
  Register(const char* name, std::function<void()> fn) { cases().push_back({name, std::move(fn)}); }
};
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace dt

#define DT_CAT2(a, b) a##b
#define DT_CAT(a, b) DT_CAT2(a, b)
#define TEST(name) \
  static void DT_CAT(test_, name)(); \
  static dt::Register DT_CAT(reg_, name)(#name, DT_CAT(test_, name)); \
  static void DT_CAT(test_, name)()

#define CHECK(cond) \
  do { \
    if (!(cond)) throw dt::Failure(std::string("line ") + std::to_string(__LINE__) + ": " #cond); \
  } while (0)
#define CHECK_EQ(a, b) \
  do { \
    auto dt_a_ = (a); \
    auto dt_b_ = (b); \
    if (!(dt_a_ == dt_b_)) { \
      std::ostringstream dt_s_; \
      dt_s_ << "line " << __LINE__ << ": " #a " == " #b " (" << dt_a_ << " vs " << dt_b_ << ")"; \
      throw dt::Failure(dt_s_.str()); \
    } \
  } while (0)
// `stmt` must throw cr::OpError with this code.
#define CHECK_THROWS_CODE(stmt, want) \
  do { \
    bool dt_threw_ = false; \
    try { \
      stmt; \
    } catch (const cr::OpError& dt_e_) { \
      dt_threw_ = true; \
      if (dt_e_.code() != (want)) \
        throw dt::Failure(std::string("line ") + std::to_string(__LINE__) + ": code " + dt_e_.code() + \
                          " instead of " + (want) + " (" + dt_e_.what() + ")"); \
    } \
    if (!dt_threw_) throw dt::Failure(std::string("line ") + std::to_string(__LINE__) + ": no error from " #stmt); \
  } while (0)
