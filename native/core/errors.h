// The one error type native code throws. Bindings turn it into the matching JS exception
// (TypeError, RangeError or Error with a code), so a bad call never takes the process down.
#pragma once
#include <stdexcept>
#include <string>

namespace cr {

enum class ErrorKind { Type, Range, Runtime, OutOfMemory };

class OpError : public std::runtime_error {
 public:
  OpError(ErrorKind kind, const std::string& msg, std::string code = "")
      : std::runtime_error(msg), kind_(kind), code_(std::move(code)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& code() const { return code_; }

 private:
  ErrorKind kind_;
  std::string code_;
};

[[noreturn]] inline void throw_type(const std::string& op, const std::string& arg, const std::string& what) {
  throw OpError(ErrorKind::Type, op + ": argument '" + arg + "' " + what, "ERR_INVALID_ARG_TYPE");
}
[[noreturn]] inline void throw_range(const std::string& op, const std::string& arg, const std::string& what) {
  throw OpError(ErrorKind::Range, op + ": argument '" + arg + "' " + what, "ERR_OUT_OF_RANGE");
}
[[noreturn]] inline void throw_runtime(const std::string& op, const std::string& what, const std::string& code = "") {
  throw OpError(ErrorKind::Runtime, op + ": " + what, code);
}

}  // namespace cr
