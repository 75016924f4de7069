#include "tf-run/common.h"

#include <charconv>

namespace tf::run {

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string part = text.substr(pos, comma - pos);
    int32_t v = 0;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v < 0)
      fail("--ids: '", part, "' is not a token id (expected a comma-separated list like 1,2,3)");
    ids.push_back(v);
    pos = comma + 1;
  }
  return ids;
}

}  // namespace tf::run
