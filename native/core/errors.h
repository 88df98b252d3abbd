// The one error type native code throws. Bindings turn it into the matching JS exception
// (TypeError, RangeError or Error with a code), so a bad call never takes the process down.
#pragma once
#include <stdexcept>
#include <string>

namespace cr {

enum class ErrorKind { Type, Range, Runtime, OutOfMemory };

class OpError : public std::runtime_error {
 public:
  OpError(ErrorKind kind, const std::string& msg, std::string code = "", std::string op = "", std::string argument = "")
      : std::runtime_error(msg),
        kind_(kind),
        code_(std::move(code)),
        op_(std::move(op)),
        argument_(std::move(argument)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& code() const { return code_; }
  // The op the message starts with ("op: ..."), empty when it names none; TS renames it to
  // the public function that ran the op. The argument at fault, empty when none is.
  const std::string& op() const { return op_; }
  const std::string& argument() const { return argument_; }

 private:
  ErrorKind kind_;
  std::string code_;
  std::string op_;
  std::string argument_;
};

[[noreturn]] inline void throw_type(const std::string& op, const std::string& arg, const std::string& what) {
  throw OpError(ErrorKind::Type, op + ": argument '" + arg + "' " + what, "ERR_INVALID_ARG_TYPE", op, arg);
}
[[noreturn]] inline void throw_range(const std::string& op, const std::string& arg, const std::string& what) {
  throw OpError(ErrorKind::Range, op + ": argument '" + arg + "' " + what, "ERR_OUT_OF_RANGE", op, arg);
}
// Two arguments that must not share storage because the op writes through one of them.
[[noreturn]] inline void throw_aliased(const std::string& op, const std::string& arg, const std::string& other) {
  throw OpError(ErrorKind::Range,
                op + ": argument '" + arg + "' shares storage with '" + other +
                    "'; the op writes through one of them, so they must be distinct tensors",
                "ERR_ALIASED_ARGS", op, arg);
}
[[noreturn]] inline void throw_runtime(const std::string& op, const std::string& what, const std::string& code = "") {
  throw OpError(ErrorKind::Runtime, op + ": " + what, code, op);
}

}  // namespace cr
