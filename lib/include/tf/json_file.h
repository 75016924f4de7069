// Reading JSON files (config.json, tokenizer.json, …) with one-line errors:
// a missing file, invalid JSON (with its byte offset) or a non-object top
// level is a tf::Error naming the file.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace tf {

nlohmann::json read_json_file(const std::string& path);
void write_json_file(const std::string& path, const nlohmann::json& value);  // atomic, 2-space indent

}  // namespace tf
