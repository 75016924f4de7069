// A model's weights by GGUF name, from a GGUF file or a Hugging Face folder,
// with the hyperparameters as an hf::Config either way.
//
// GGUF tensors are used in place from the memory map. HF tensors too, except
// the few whose layout differs from what llama.cpp's converter writes, which
// are rearranged once at load: GPT-2's Conv1D weights (transposed) and the
// head-interleaved fused QKV of GPT-NeoX and Falcon. LLaMA-family q/k weights
// are NOT permuted: the model uses NeoX-style RoPE for them instead
// (rope_permuted() says which layout the q/k rows are in).
#pragma once
#include <map>
#include <memory>
#include <string>

#include "tf/hf_config.h"
#include "tf/mapped_file.h"
#include "tf/tensor.h"

namespace tf::gguf {
class File;
}

namespace tf::models {

class Weights {
 public:
  static Weights open(const std::string& path, LoadMode mode = LoadMode::Mmap);

  const hf::Config& config() const { return config_; }
  const std::string& path() const { return path_; }
  bool from_gguf() const { return gguf_ != nullptr; }
  const gguf::File* gguf() const { return gguf_.get(); }
  // q/k rows in llama.cpp's interleaved rotary order (GGUF llama files)
  bool rope_permuted() const { return rope_permuted_; }
  // RMSNorm weights already hold (1 + w) (llama.cpp's gemma converter adds 1)
  bool norm_offset_baked() const { return norm_offset_baked_; }

  const Tensor* find(const std::string& gguf_name) const;
  const Tensor& get(const std::string& gguf_name) const;  // tf::Error naming the tensor if missing
  uint64_t parameter_count() const;
  uint64_t bytes() const;  // of the tensors as stored

 private:
  std::string path_;
  hf::Config config_;
  std::shared_ptr<const gguf::File> gguf_;
  std::shared_ptr<const void> checkpoint_;  // keeps an HF checkpoint's mappings alive
  std::map<std::string, Tensor, std::less<>> tensors_;
  bool rope_permuted_ = false;
  bool norm_offset_baked_ = false;
};

// Hyperparameters of a GGUF model as an hf::Config (llama, gpt2, qwen2, phi3,
// gemma, stablelm, gptneox, falcon, bert), from llama.cpp's metadata keys.
hf::Config config_from_gguf(const gguf::File& file);

}  // namespace tf::models
