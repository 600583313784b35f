// Errors raised by the native core. The core never touches N-API: the binding turns each kind
// into the matching JavaScript error (TypeError, RangeError, or an Error carrying `code`).
#pragma once

#include <stdexcept>
#include <string>

namespace tads {

enum class ErrorKind {
  kType,   // an argument of the wrong type or shape
  kRange,  // an argument whose value is out of range (including non-finite training data)
  kPca,    // the maths cannot proceed (too few rows, degenerate data); carries a code
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string code, const std::string& message)
      : std::runtime_error(message), kind_(kind), code_(std::move(code)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& code() const { return code_; }

 private:
  ErrorKind kind_;
  std::string code_;
};

// Throws a RangeError-kind error with the given message.
[[noreturn]] inline void throw_range(const std::string& message) {
  throw Error(ErrorKind::kRange, "", message);
}

// Throws a TypeError-kind error with the given message.
[[noreturn]] inline void throw_type(const std::string& message) {
  throw Error(ErrorKind::kType, "", message);
}

// Throws a PcaError-kind error with a stable string code.
[[noreturn]] inline void throw_pca(const std::string& code, const std::string& message) {
  throw Error(ErrorKind::kPca, code, message);
}

}  // namespace tads
