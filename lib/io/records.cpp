#include "tf/records.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tf/error.h"

namespace tf::io {

void emit(const nlohmann::json& record) {
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  errno = 0;
  if (std::fwrite(line.data(), 1, line.size(), stdout) != line.size() || std::fflush(stdout) != 0) {
    if (errno == EPIPE) throw BrokenPipe();
    fail("cannot write to stdout: ", std::strerror(errno));
  }
}

nlohmann::json model_record(const ModelInfo& m) {
  nlohmann::json r = {{"type", "model"}, {"path", m.path}, {"format", m.format}};
  if (!m.arch.empty()) r["arch"] = m.arch;
  if (!m.quant.empty()) r["quant"] = m.quant;
  r["params"] = m.params;
  r["bytes"] = m.bytes;
  if (!m.sha256.empty()) r["sha256"] = m.sha256;
  return r;
}

std::vector<nlohmann::json> read_records(std::istream& in, const std::string& source) {
  std::vector<nlohmann::json> records;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) fail(source, ":", line_no, ": not valid JSON");
    if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
      fail(source, ":", line_no, ": a record must be a JSON object with a string \"type\"");
    records.push_back(std::move(j));
  }
  return records;
}

std::string resolve_model_arg(const std::string& arg, std::istream& in) {
  if (arg != "-") return arg;
  std::string path;
  for (const auto& r : read_records(in)) {
    if (r["type"] != "model") continue;
    if (!r.contains("path") || !r["path"].is_string()) fail("stdin: a model record has no string \"path\"");
    path = r["path"].get<std::string>();
  }
  if (path.empty()) fail("stdin: no model record found (the model argument was '-')");
  return path;
}

}  // namespace tf::io
