// One error type for the whole library: a single line that says what went
// wrong, in which file and where. Tools print it as `tf-<tool>: error: <line>`
// and exit 1.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace tf {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by stdout writers when the reader went away (`| head -1`): tools
// stop quietly and successfully, cleaning up like any other unwinding.
class BrokenPipe : public std::exception {
 public:
  const char* what() const noexcept override { return "broken pipe"; }
};

// fail("file.gguf: tensor ", name, ": offset ", off, " beyond end of file")
template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream line;
  (line << ... << parts);
  throw Error(line.str());
}

}  // namespace tf
