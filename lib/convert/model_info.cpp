#include "tf/model_info.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/model_format.h"
#include "tf/safetensors.h"

namespace tf {
namespace {

using nlohmann::json;
constexpr size_t kArrayHead = 8;

json value_json(const gguf::Value& v) {
  using gguf::ValueType;
  switch (v.type()) {
    case ValueType::STRING: return v.as_string();
    case ValueType::BOOL: return v.as_bool();
    case ValueType::FLOAT32:
    case ValueType::FLOAT64: return v.as_f64();
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: return v.as_i64();
    case ValueType::ARRAY: {
      json items = json::array();
      size_t n = v.size();
      for (size_t i = 0; i < n && i < kArrayHead; ++i) items.push_back(value_json(v.at(i)));
      if (n <= kArrayHead) return items;
      return json{{"array", gguf::value_type_name(v.element_type())}, {"n", n}, {"head", items}};
    }
    default: return v.as_u64();
  }
}

json shape_json(const Shape& s) { return json(s); }

struct Tally {
  uint64_t params = 0;
  std::map<std::string, uint64_t> bytes_per_dtype;
  json tensors = json::array();
  void add(const std::string& name, DType dtype, const Shape& shape, uint64_t bytes, bool list) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= uint64_t(d);
    params += n;
    bytes_per_dtype[std::string(dtype_name(dtype))] += bytes;
    if (list) tensors.push_back({{"name", name}, {"dtype", dtype_name(dtype)}, {"shape", shape_json(shape)}, {"bytes", bytes}});
  }
  void into(json& r, bool list) {
    r["params"] = params;
    r["bytes_per_dtype"] = bytes_per_dtype;
    if (list) r["tensors"] = std::move(tensors);
  }
};

json gguf_info(const std::string& path, bool list) {
  gguf::File f = gguf::File::open(path);
  json r = {{"type", "info"}, {"path", path}, {"format", "gguf"}, {"arch", f.architecture()}};
  r["gguf_version"] = f.version();
  r["bytes"] = uint64_t(std::filesystem::file_size(path));
  r["n_tensors"] = f.tensors().size();
  Tally t;
  for (const auto& info : f.tensors()) t.add(info.name, info.type, info.shape(), info.nbytes, list);
  json meta = json::object();
  for (const auto& kv : f.metadata()) meta[kv.key] = value_json(kv.value);
  r["metadata"] = std::move(meta);
  t.into(r, list);
  return r;
}

json safetensors_tensors(const safetensors::Checkpoint& ckpt, json& r, bool list) {
  Tally t;
  auto names = ckpt.names();
  for (const auto& name : names) {
    const auto& info = ckpt.info(name);
    t.add(name, info.dtype, info.shape, info.nbytes(), list);
  }
  r["n_tensors"] = names.size();
  t.into(r, list);
  return r;
}

json hf_info(const std::string& dir, bool list) {
  namespace fs = std::filesystem;
  json r = {{"type", "info"}, {"path", dir}, {"format", "hf"}};
  std::ifstream in(fs::path(dir) / "config.json");
  json config = json::parse(in, nullptr, false);
  if (config.is_discarded() || !config.is_object()) fail(dir, "/config.json: not a JSON object");
  r["arch"] = config.value("model_type", "");
  if (config.contains("architectures")) r["architectures"] = config["architectures"];
  uint64_t bytes = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file()) bytes += e.file_size();
  r["bytes"] = bytes;
  return safetensors_tensors(safetensors::Checkpoint::open_dir(dir), r, list);
}

}  // namespace

nlohmann::json model_info(const std::string& path, bool list_tensors) {
  switch (detect_model_format(path)) {
    case ModelFormat::Gguf: return gguf_info(path, list_tensors);
    case ModelFormat::HfFolder: return hf_info(path, list_tensors);
    case ModelFormat::Safetensors: {
      json r = {{"type", "info"}, {"path", path}, {"format", "safetensors"}};
      r["bytes"] = uint64_t(std::filesystem::file_size(path));
      return safetensors_tensors(safetensors::Checkpoint::open_file(path), r, list_tensors);
    }
  }
  return {};
}

}  // namespace tf
