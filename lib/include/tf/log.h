// Human-readable messages go to stderr, never stdout (stdout is for records).
#pragma once
#include <sstream>
#include <string>

namespace tf {

void set_log_prefix(std::string prefix);  // "tf-convert"
void set_log_quiet(bool quiet);
void log_line(const std::string& line);     // "<prefix>: <line>\n" on stderr
bool stderr_is_terminal();

template <class... Parts>
void log(const Parts&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  log_line(s.str());
}

}  // namespace tf
