#include "tf/model_format.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "tf/error.h"

namespace tf {

ModelFormat detect_model_format(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / "config.json", ec)) return ModelFormat::HfFolder;
    fail(path, ": a folder without config.json is not a Hugging Face model");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  unsigned char head[9] = {};
  in.read(reinterpret_cast<char*>(head), sizeof head);
  size_t got = size_t(in.gcount());
  if (got >= 4 && std::memcmp(head, "GGUF", 4) == 0) return ModelFormat::Gguf;
  // safetensors: 8-byte little-endian header length, then a JSON object
  if (got == 9 && head[8] == '{') return ModelFormat::Safetensors;
  fail(path, ": not a GGUF file, a safetensors file or a Hugging Face folder");
}

std::string_view model_format_name(ModelFormat f) {
  switch (f) {
    case ModelFormat::Gguf: return "gguf";
    case ModelFormat::Safetensors: return "safetensors";
    case ModelFormat::HfFolder: return "hf";
  }
  return "?";
}

}  // namespace tf
