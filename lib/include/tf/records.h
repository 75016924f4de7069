// The JSON record protocol (docs/protocol.md): stdout carries one JSON object
// per line, each with a "type"; a tool that writes a model announces it with
// a `model` record, and a tool given `-` as its model reads records from stdin
// and takes the last `model` record's path.
#pragma once
#include <cstdint>
#include <istream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tf::io {

// Writes one record as a line on stdout and flushes it. Throws tf::BrokenPipe
// when the reader has gone away.
void emit(const nlohmann::json& record);

struct ModelInfo {
  std::string path;
  std::string format;  // "gguf", "safetensors", "hf"
  std::string arch;
  std::string quant;   // "F16", "Q4_K_M", ...
  uint64_t params = 0;
  uint64_t bytes = 0;
  std::string sha256;
};

nlohmann::json model_record(const ModelInfo& m);

// Parses JSON Lines; blank lines are skipped; a bad line is a tf::Error that
// names the source and the line number. Each record must be an object with a
// string "type".
std::vector<nlohmann::json> read_records(std::istream& in, const std::string& source = "stdin");

// `arg` itself, or for "-" the path of the last `model` record read from `in`.
std::string resolve_model_arg(const std::string& arg, std::istream& in);

}  // namespace tf::io
