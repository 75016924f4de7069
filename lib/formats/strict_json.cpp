#include "formats/strict_json.h"

#include <set>
#include <vector>

#include "tf/error.h"

namespace tf::json {

std::string quote(std::string_view s, size_t limit) {
  static const char* hex = "0123456789abcdef";
  std::string out = "'";
  size_t n = s.size() < limit ? s.size() : limit;
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += char(c);
    }
  }
  out += "'";
  if (n < s.size()) out += "...";
  return out;
}

std::string brief(const nlohmann::json& v, size_t limit) {
  // Replace, not throw, on invalid UTF-8 (parsed input never has any).
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > limit) s = s.substr(0, limit) + "...";
  return s;
}

const char* type_name(const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "object";
    case nlohmann::json::value_t::array: return "array";
    case nlohmann::json::value_t::string: return "string";
    case nlohmann::json::value_t::boolean: return "boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "integer";
    case nlohmann::json::value_t::number_float: return "number";
    default: return "value";
  }
}

namespace {

// nlohmann's messages can carry a fragment of the input; keep them on one line.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

nlohmann::json parse_strict(std::string_view text, const std::string& origin, int max_depth) {
  struct Frame {
    std::set<std::string> keys;
    std::string owner;  // the key this object is the value of ("" at top level)
  };
  std::vector<Frame> objects;
  std::string last_key;
  using Event = nlohmann::json::parse_event_t;
  auto callback = [&](int depth, Event event, nlohmann::json& parsed) -> bool {
    switch (event) {
      case Event::object_start:
      case Event::array_start:
        // `depth` is the number of containers already open around this one.
        if (depth >= max_depth) fail(origin, ": JSON nested deeper than ", max_depth, " levels");
        if (event == Event::object_start) objects.push_back({{}, depth == 0 ? std::string() : last_key});
        break;
      case Event::object_end:
        if (!objects.empty()) objects.pop_back();
        break;
      case Event::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!objects.empty() && !objects.back().keys.insert(key).second) {
          if (objects.back().owner.empty()) fail(origin, ": duplicate key ", quote(key));
          fail(origin, ": duplicate key ", quote(key), " in ", quote(objects.back().owner));
        }
        last_key = key;
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    fail(origin, ": invalid JSON: ", one_line(e.what()));
  }
}

}  // namespace tf::json
