// Which kind of model a path names: a GGUF file, a safetensors file or a
// Hugging Face folder. Decided by content (magic bytes, config.json), never by
// file extension alone.
#pragma once
#include <string>
#include <string_view>

namespace tf {

enum class ModelFormat { Gguf, Safetensors, HfFolder };

ModelFormat detect_model_format(const std::string& path);  // tf::Error if none fits
std::string_view model_format_name(ModelFormat f);         // "gguf", "safetensors", "hf"

}  // namespace tf
