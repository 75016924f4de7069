// Helpers the tf-run subcommands share: reading inputs, JSONL loops, model paths.
#pragma once
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tf/error.h"
#include "tf/mapped_file.h"
#include "tf/records.h"

namespace tf::run {

using json = nlohmann::json;

inline std::string read_all(const std::string& path) {
  if (path == "-") {
    std::ostringstream s;
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Calls `each` with every JSONL record of `path` ("-" = stdin), line by line,
// so a reader that stops early (`| head -1`) stops the work too.
template <class F>
inline void for_each_jsonl(const std::string& path, F each) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) fail(path, ": cannot open");
    in = &file;
  }
  std::string line;
  size_t line_no = 0;
  while (std::getline(*in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) fail(path, ":", line_no, ": not a JSON object");
    each(j, line_no);
  }
}

inline std::string model_path(const std::string& arg) {
  if (arg != "-") return arg;
  return io::resolve_model_arg(arg, std::cin);
}

// `forward` on an encoder (pipelines_cmd.cpp): last_hidden_state,
// hidden_states and, with a masked-LM head, logits.
struct EncoderForwardArgs {
  std::string model;  // resolved path
  int threads = 0;
  LoadMode load_mode = kDefaultModelLoadMode;
  std::string ids, prompt, out;
  bool hidden_states = false;
};
void forward_encoder(const EncoderForwardArgs& args);

// "1,2,3" -> {1, 2, 3}
std::vector<int32_t> parse_ids(const std::string& text);

}  // namespace tf::run
