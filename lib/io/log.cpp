#include "tf/log.h"

#include <unistd.h>

#include <cstdio>

namespace tf {
namespace {
std::string g_prefix = "trustformers";
bool g_quiet = false;
}  // namespace

void set_log_prefix(std::string prefix) { g_prefix = std::move(prefix); }
void set_log_quiet(bool quiet) { g_quiet = quiet; }
bool stderr_is_terminal() { return isatty(2) == 1; }

void log_line(const std::string& line) {
  if (g_quiet) return;
  std::string s = g_prefix + ": " + line + "\n";
  std::fwrite(s.data(), 1, s.size(), stderr);
}

}  // namespace tf
