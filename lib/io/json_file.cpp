#include "tf/json_file.h"

#include <fstream>
#include <sstream>

#include "formats/strict_json.h"
#include "tf/atomic_file.h"
#include "tf/error.h"

namespace tf {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  nlohmann::json j = json::parse_strict(text.str(), path);
  if (!j.is_object()) fail(path, ": expected a JSON object at the top level");
  return j;
}

void write_json_file(const std::string& path, const nlohmann::json& value) {
  AtomicFile out(path);
  std::string text = value.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) + "\n";
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace tf
