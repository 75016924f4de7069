// JSONL text classification sets (tf/train_data.h).
#include <algorithm>
#include <map>
#include <set>

#include "formats/strict_json.h"
#include "tf/error.h"
#include "tf/mapped_file.h"
#include "tf/train_data.h"

namespace tf::train {

namespace {

struct RawExample {
  size_t line = 0;
  TextExample example;
  nlohmann::json label;  // a string or a non-negative integer
};

}  // namespace

TextClassificationData load_text_classification(const std::string& path, const std::vector<std::string>& labels) {
  auto file = MappedFile::open(path, LoadMode::Read);
  std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  std::vector<RawExample> raw;
  size_t line_no = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j = json::parse_strict(line, where, 4);
    if (!j.is_object()) fail(where, ": expected a JSON object, got ", json::type_name(j));
    RawExample r;
    r.line = line_no;
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& key = it.key();
      if (key == "text" || key == "text_pair") {
        if (!it.value().is_string()) fail(where, ": '", key, "' must be a string, got ", json::type_name(it.value()));
        (key == "text" ? r.example.text : r.example.text_pair) = it.value().get<std::string>();
      } else if (key == "label") {
        if (!it.value().is_string() && !it.value().is_number_unsigned())
          fail(where, ": 'label' must be a name or a non-negative integer, got ", json::brief(it.value()));
        r.label = it.value();
      } else {
        fail(where, ": unexpected field ", json::quote(key), " (a line holds \"text\", \"label\" and optionally \"text_pair\")");
      }
    }
    if (!j.contains("text")) fail(where, ": missing 'text'");
    if (!j.contains("label")) fail(where, ": missing 'label'");
    if (!raw.empty() && raw.front().label.is_string() != r.label.is_string())
      fail(where, ": label ", json::brief(r.label), " mixes ", r.label.is_string() ? "names" : "integer ids",
           " with the ", raw.front().label.is_string() ? "names" : "integer ids", " of line ", raw.front().line);
    raw.push_back(std::move(r));
  }
  if (raw.empty()) fail(path, ": no examples");

  TextClassificationData d;
  d.labels = labels;
  const bool by_name = raw.front().label.is_string();
  if (d.labels.empty()) {
    if (by_name) {
      std::set<std::string> names;
      for (const RawExample& r : raw) names.insert(r.label.get<std::string>());
      d.labels.assign(names.begin(), names.end());
    } else {
      uint64_t max_id = 0;
      for (const RawExample& r : raw) max_id = std::max(max_id, r.label.get<uint64_t>());
      if (max_id >= 1'000'000) fail(path, ": label id ", max_id, " is implausibly large");
      for (uint64_t i = 0; i <= max_id; ++i) d.labels.push_back("LABEL_" + std::to_string(i));
    }
  }
  std::map<std::string, int32_t, std::less<>> ids;
  for (size_t i = 0; i < d.labels.size(); ++i)
    if (!ids.emplace(d.labels[i], int32_t(i)).second) fail(path, ": label name '", d.labels[i], "' listed twice");
  d.examples.reserve(raw.size());
  for (RawExample& r : raw) {
    if (by_name) {
      auto it = ids.find(r.label.get<std::string>());
      if (it == ids.end())
        fail(path, ":", r.line, ": unknown label ", json::quote(r.label.get<std::string>()), " (", d.labels.size(),
             " labels known)");
      r.example.label = it->second;
    } else {
      const uint64_t id = r.label.get<uint64_t>();
      if (id >= d.labels.size()) fail(path, ":", r.line, ": label id ", id, " out of range (", d.labels.size(), " labels)");
      r.example.label = int32_t(id);
    }
    d.examples.push_back(std::move(r.example));
  }
  return d;
}

}  // namespace tf::train
