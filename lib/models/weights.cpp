#include "models/weights.h"

#include <cstring>

#include "models/tensor_names.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/model_format.h"
#include "tf/safetensors.h"

namespace tf::models {
namespace {

// Tensors in HF checkpoints that are buffers, not weights.
bool is_buffer(const std::string& name) {
  return name.ends_with("rotary_emb.inv_freq") || name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") ||
         name.ends_with("embeddings.position_ids");
}

// Rows of `src` reordered: out row i = src row order[i] (any dtype, rows of
// equal bytes).
Tensor reorder_rows(const Tensor& src, const std::vector<int64_t>& order) {
  Tensor out = Tensor::zeros(src.dtype(), src.shape());
  size_t row = size_t(src.nbytes() / uint64_t(src.dim(0)));
  const uint8_t* in = static_cast<const uint8_t*>(src.data());
  uint8_t* dst = static_cast<uint8_t*>(out.mutable_data());
  for (size_t i = 0; i < order.size(); ++i) std::memcpy(dst + i * row, in + size_t(order[i]) * row, row);
  return out;
}

// Fused QKV rows from HF's head-grouped layouts to llama.cpp's [all q, all k, all v].
std::vector<int64_t> qkv_order(const hf::Config& c, int64_t rows) {
  int64_t hd = c.head_dim, nh = c.num_heads, nkv = c.num_kv_heads;
  std::vector<int64_t> order;
  if (c.arch == hf::Arch::GptNeoX || (c.arch == hf::Arch::Falcon && nkv == nh && c.parallel_norms < 2)) {
    // [head][q|k|v][hd]
    for (int64_t part = 0; part < 3; ++part)
      for (int64_t h = 0; h < nh; ++h)
        for (int64_t d = 0; d < hd; ++d) order.push_back((h * 3 + part) * hd + d);
  } else if (c.arch == hf::Arch::Falcon && c.parallel_norms == 2) {
    // new decoder architecture: [kv group][g q heads, k, v][hd]
    int64_t g = nh / nkv;
    for (int64_t kv = 0; kv < nkv; ++kv)
      for (int64_t q = 0; q < g; ++q)
        for (int64_t d = 0; d < hd; ++d) order.push_back((kv * (g + 2) + q) * hd + d);
    for (int64_t part : {g, g + 1})
      for (int64_t kv = 0; kv < nkv; ++kv)
        for (int64_t d = 0; d < hd; ++d) order.push_back((kv * (g + 2) + part) * hd + d);
  } else {
    for (int64_t i = 0; i < rows; ++i) order.push_back(i);  // multi-query falcon: already [q.., k, v]
  }
  if (int64_t(order.size()) != rows) fail("fused qkv has ", rows, " rows, expected ", order.size());
  return order;
}

Tensor transpose_2d(const Tensor& src) { return src.transpose(0, 1).contiguous(); }

// The base-model attribute of an encoder's task checkpoints
// (BertForMaskedLM's "bert.", ...); "" for other architectures.
std::string_view encoder_base_prefix(hf::Arch arch) {
  switch (arch) {
    case hf::Arch::Bert: return "bert.";
    case hf::Arch::Roberta: return "roberta.";
    case hf::Arch::DistilBert: return "distilbert.";
    case hf::Arch::Electra: return "electra.";
    case hf::Arch::Albert: return "albert.";
    case hf::Arch::DebertaV2: return "deberta.";
    default: return "";
  }
}

}  // namespace

Weights Weights::open(const std::string& path, LoadMode mode) {
  Weights w;
  w.path_ = path;
  if (detect_model_format(path) == ModelFormat::Gguf) {
    auto file = std::make_shared<const gguf::File>(gguf::File::open(path, mode));
    w.config_ = config_from_gguf(*file);
    w.rope_permuted_ = w.config_.arch == hf::Arch::Llama;  // llama.cpp permutes only LLaMA's q/k
    w.norm_offset_baked_ = w.config_.arch == hf::Arch::Gemma;
    for (const auto& info : file->tensors()) w.tensors_.emplace(info.name, file->tensor(info.name));
    w.gguf_ = std::move(file);
    return w;
  }
  if (detect_model_format(path) != ModelFormat::HfFolder)
    fail(path, ": a model is a GGUF file or a Hugging Face folder (config.json + safetensors)");
  w.config_ = hf::load_config(path);
  const hf::Config& c = w.config_;
  const NameTable& names = tensor_names(c.arch);
  auto ckpt = std::make_shared<safetensors::Checkpoint>(safetensors::Checkpoint::open_dir(path, mode));
  for (const std::string& hf_name : ckpt->names()) {
    if (is_buffer(hf_name)) continue;
    // GPT-2 checkpoints may omit the "transformer." prefix; encoder task
    // checkpoints put the base model under "bert." etc.
    std::string name = hf_name;
    if (c.arch == hf::Arch::Gpt2 && name.rfind("transformer.", 0) != 0) name = "transformer." + name;
    const std::string_view base = encoder_base_prefix(c.arch);
    if (!base.empty()) {
      if (name.starts_with(base)) name = name.substr(base.size());
      // TF-era checkpoints name LayerNorm parameters gamma / beta
      if (name.ends_with(".gamma")) name = name.substr(0, name.size() - 6) + ".weight";
      if (name.ends_with(".beta")) name = name.substr(0, name.size() - 5) + ".bias";
    }
    std::string gguf_name = names.to_gguf(name);
    if (gguf_name.empty()) {
      // an encoder's task heads (cls.*, classifier.*, qa_outputs.*, pooler.*)
      // keep their HF names; lib/models/encoder.cpp reads them
      if (base.empty()) fail(path, ": tensor ", hf_name, " is not part of the ", hf::arch_name(c.arch), " architecture");
      gguf_name = name;
    }
    Tensor t = ckpt->tensor(hf_name);
    bool fused_qkv = gguf_name.find(".attn_qkv.") != std::string::npos;
    if (c.arch == hf::Arch::Gpt2 && gguf_name.rfind("blk.", 0) == 0 && gguf_name.ends_with(".weight") &&
        gguf_name.find("_norm.") == std::string::npos) {
      t = transpose_2d(t);  // Conv1D stores [in, out]
    } else if (fused_qkv && (c.arch == hf::Arch::GptNeoX || c.arch == hf::Arch::Falcon)) {
      t = reorder_rows(t, qkv_order(c, t.dim(0)));
    }
    if (!w.tensors_.emplace(gguf_name, std::move(t)).second)
      fail(path, ": two checkpoint tensors map to ", gguf_name);
  }
  w.checkpoint_ = std::move(ckpt);
  return w;
}

const Tensor* Weights::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

const Tensor& Weights::get(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t) fail(path_, ": the model has no tensor ", name);
  return *t;
}

uint64_t Weights::parameter_count() const {
  uint64_t n = 0;
  for (const auto& [_, t] : tensors_) n += uint64_t(t.numel());
  return n;
}

uint64_t Weights::bytes() const {
  uint64_t n = 0;
  for (const auto& [_, t] : tensors_) n += t.nbytes();
  return n;
}

}  // namespace tf::models
