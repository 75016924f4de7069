// JSON from files we do not trust (safetensors headers, index files,
// config.json): nlohmann parses, but its exceptions never escape, duplicate
// keys are an error instead of "last one wins", and nesting is capped so a
// hostile file cannot exhaust the stack or memory with "[[[[...".
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tf::json {

// Parses `text` or throws a one-line tf::Error that starts with `origin`.
// `max_depth` counts containers: {"a": [1]} has depth 2.
nlohmann::json parse_strict(std::string_view text, const std::string& origin, int max_depth = 64);

// An untrusted string made safe for a one-line message: quoted, control
// bytes escaped, cut after `limit` bytes.
std::string quote(std::string_view s, size_t limit = 200);

// A value's compact JSON, cut after `limit` bytes, for messages.
std::string brief(const nlohmann::json& v, size_t limit = 100);

// "object", "array", "string", "number", ... for "expected X, got Y" messages.
const char* type_name(const nlohmann::json& v);

}  // namespace tf::json
