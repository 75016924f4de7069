#include "tf/json_file.h"

#include <fstream>
#include <sstream>

#include "tf/atomic_file.h"
#include "tf/error.h"

namespace tf {

nlohmann::json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    nlohmann::json j = nlohmann::json::parse(text.str());
    if (!j.is_object()) fail(path, ": expected a JSON object at the top level");
    return j;
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": invalid JSON: ", e.what());
  }
}

void write_json_file(const std::string& path, const nlohmann::json& value) {
  AtomicFile out(path);
  std::string text = value.dump(2, ' ', false, nlohmann::json::error_handler_t::strict) + "\n";
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace tf
