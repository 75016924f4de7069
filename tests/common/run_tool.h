// Runs a built tool in a shell and captures its stdout, stderr and exit code.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>
#include <vector>

#include "common/test_paths.h"

namespace tf::test {

struct ToolResult {
  int exit_code = -1;
  std::string out, err;
};

// `command` is a shell command line; tool names like tf-convert resolve to the
// build's bin folder through PATH.
inline ToolResult run_shell(const std::string& command) {
  static int counter = 0;
  std::string base = (std::filesystem::temp_directory_path() / ("tf-run-" + std::to_string(::getpid()) + "-" +
                                                                 std::to_string(counter++))).string();
  std::string full = "PATH=\"" + std::string(TF_BIN_DIR) + ":$PATH\" bash -c '" + command + "' >" + base +
                     ".out 2>" + base + ".err";
  int status = std::system(full.c_str());
  ToolResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  r.out = slurp(base + ".out");
  r.err = slurp(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

// A tool's stdout as its JSON records, one per line.
inline std::vector<nlohmann::json> json_records(const std::string& out) {
  std::vector<nlohmann::json> r;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line))
    if (!line.empty()) r.push_back(nlohmann::json::parse(line));
  return r;
}

}  // namespace tf::test
