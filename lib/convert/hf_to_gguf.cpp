#include <algorithm>
#include <cstring>
#include <filesystem>

#include "convert/hf_family.h"
#include "convert/naming.h"
#include "tf/atomic_file.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/half.h"
#include "tf/json_file.h"
#include "tf/log.h"
#include "tf/safetensors.h"

namespace tf {
namespace {
namespace fs = std::filesystem;
using convert::PlannedTensor;
using convert::Transform;

// Checkpoint parts as llama.cpp reads them: model*.safetensors sorted by file
// name, tensors within a part sorted by name (safe_open().keys() sorts).
std::vector<safetensors::File> checkpoint_parts(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.rfind("model", 0) == 0 && n.ends_with(".safetensors")) names.push_back(n);
  }
  if (names.empty()) fail(dir, ": no model*.safetensors files");
  std::sort(names.begin(), names.end());
  std::vector<safetensors::File> parts;
  for (const auto& n : names) parts.push_back(safetensors::File::open((fs::path(dir) / n).string()));
  return parts;
}

std::vector<const safetensors::TensorInfo*> sorted_tensors(const safetensors::File& f) {
  std::vector<const safetensors::TensorInfo*> v;
  for (const auto& t : f.tensors()) v.push_back(&t);
  std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return v;
}

std::vector<float> load_f32(const safetensors::File& f, const safetensors::TensorInfo& info) {
  size_t n = size_t(info.nbytes() / (info.dtype == DType::F32 ? 4 : 2));
  std::vector<float> out(n);
  const uint8_t* p = f.data(info);
  switch (info.dtype) {
    case DType::F32: std::memcpy(out.data(), p, n * 4); break;
    case DType::F16: f16_to_f32(reinterpret_cast<const uint16_t*>(p), out.data(), n); break;
    case DType::BF16: bf16_to_f32(reinterpret_cast<const uint16_t*>(p), out.data(), n); break;
    default: fail(f.path(), ": tensor ", info.name, " has dtype ", dtype_name(info.dtype), ", not a float type");
  }
  return out;
}

// LLaMA q/k rows: HF keeps each head's rotary pairs as (first half, second
// half); GGML rotates adjacent pairs. Output row h*hd + 2i + j takes input row
// h*hd + j*hd/2 + i.
std::vector<float> permute_heads(const std::vector<float>& in, int64_t rows, int64_t heads) {
  int64_t cols = int64_t(in.size()) / rows, hd = rows / heads;
  std::vector<float> out(in.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const float* src = in.data() + (h * hd + j * (hd / 2) + i) * cols;
        std::copy(src, src + cols, out.data() + (h * hd + 2 * i + j) * cols);
      }
  return out;
}

// Fused q/k/v rows [group][q_per_group q heads, k, v][head_dim] -> all q
// heads, then all k, then all v (llama.cpp's GPT-NeoX and Falcon layout).
std::vector<float> qkv_to_blocks(const std::vector<float>& in, int64_t rows, int64_t groups, int64_t q_per_group) {
  int64_t cols = int64_t(in.size()) / rows, per = q_per_group + 2, hd = rows / (groups * per);
  std::vector<float> out;
  out.reserve(in.size());
  auto take = [&](int64_t g, int64_t slot) {
    const float* src = in.data() + (g * per + slot) * hd * cols;
    out.insert(out.end(), src, src + hd * cols);
  };
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t q = 0; q < q_per_group; ++q) take(g, q);
  for (int64_t slot : {q_per_group, q_per_group + 1})
    for (int64_t g = 0; g < groups; ++g) take(g, slot);
  return out;
}

std::vector<float> transpose(const std::vector<float>& in, int64_t rows, int64_t cols) {
  std::vector<float> out(in.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[size_t(c * rows + r)] = in[size_t(r * cols + c)];
  return out;
}

void write_as(AtomicFile& out, const std::vector<float>& data, DType type) {
  if (type == DType::F32) return out.write(data.data(), data.size() * 4);
  std::vector<uint16_t> half(data.size());
  if (type == DType::F16)
    f32_to_f16(data.data(), half.data(), data.size());
  else
    f32_to_bf16(data.data(), half.data(), data.size());
  out.write(half.data(), half.size() * 2);
}

std::vector<uint64_t> gguf_dims(const Shape& shape) { return {shape.rbegin(), shape.rend()}; }

std::string folder_name(const std::string& dir) {
  fs::path p = fs::path(dir).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  if (p.filename() == "." || p.filename().empty()) p = fs::absolute(p).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  return p.filename().string();
}

// llama.cpp: config.json's _name_or_path (when it has at most one '/'), else the folder
std::string model_name(const std::string& dir, const nlohmann::json& config) {
  if (config.contains("_name_or_path") && config["_name_or_path"].is_string()) {
    std::string id = config["_name_or_path"].get<std::string>();
    if (!id.empty() && std::count(id.begin(), id.end(), '/') <= 1) {
      if (id.find(' ') != std::string::npos) return id;
      return convert::id_to_title(id.substr(id.find('/') + 1));
    }
  }
  return convert::id_to_title(folder_name(dir));
}

}  // namespace

io::ModelInfo convert_hf_to_gguf(const std::string& dir, const std::string& out, const HfToGgufOptions& options) {
  convert::ConvertContext ctx;
  ctx.dir = dir;
  ctx.config = read_json_file((fs::path(dir) / "config.json").string());
  auto family = convert::family_for(ctx.config, dir);
  auto parts = checkpoint_parts(dir);

  std::string outtype = options.outtype;
  if (outtype == "auto") {
    auto first = sorted_tensors(parts.front());
    outtype = !first.empty() && first.front()->dtype == DType::F16 ? "f16" : "bf16";
  }
  DType wide;
  if (outtype == "f32") {
    ctx.file_type = 0;
    wide = DType::F32;
  } else if (outtype == "f16") {
    ctx.file_type = 1;
    wide = DType::F16;
  } else if (outtype == "bf16") {
    ctx.file_type = 32;
    wide = DType::BF16;
  } else {
    fail("--outtype must be f32, f16, bf16 or auto (got '", outtype, "')");
  }

  // Plan every tensor first: names, shapes and types go into the header.
  struct Planned {
    PlannedTensor plan;
    const safetensors::File* part = nullptr;
    const safetensors::TensorInfo* info = nullptr;
    DType type = DType::F32;
  };
  std::vector<Planned> planned;
  for (auto& t : family->extra_tensors(ctx)) planned.push_back({std::move(t), nullptr, nullptr, DType::F32});
  for (const auto& part : parts)
    for (const auto* info : sorted_tensors(part))
      for (auto& t : family->map_tensor(ctx, info->name, info->shape)) planned.push_back({std::move(t), &part, info});
  uint64_t params = 0;
  for (auto& p : planned) {
    const std::string& n = p.plan.gguf_name;
    bool f32 = p.plan.keep_f32 || p.plan.shape.size() <= 1 || n.ends_with("_norm.weight") || !n.ends_with(".weight");
    p.type = f32 ? DType::F32 : wide;
    uint64_t numel = 1;
    for (int64_t d : p.plan.shape) numel *= uint64_t(d);
    params += numel;
  }

  gguf::Writer w;
  w.set("general.architecture", gguf::Value::string(family->arch()));
  w.set("general.type", gguf::Value::string("model"));
  std::string name = options.name.empty() ? model_name(dir, ctx.config) : options.name;
  if (!name.empty()) w.set("general.name", gguf::Value::string(name));
  w.set("general.size_label", gguf::Value::string(convert::size_label(params)));
  family->write_parameters(ctx, w);
  family->write_tokenizer(ctx, w);
  w.set("general.quantization_version", gguf::Value::u32(2));

  for (const auto& p : planned) {
    w.add_tensor(p.plan.gguf_name, p.type, gguf_dims(p.plan.shape), [&p](AtomicFile& file) {
      if (!p.info) return write_as(file, p.plan.generated, p.type);
      std::vector<float> data = load_f32(*p.part, *p.info);
      const Shape& src = p.info->shape;
      if (p.plan.transform == Transform::PermuteHeads) data = permute_heads(data, src[0], p.plan.heads);
      if (p.plan.transform == Transform::Transpose) data = transpose(data, src[0], src[1]);
      if (p.plan.transform == Transform::QkvGroups) data = qkv_to_blocks(data, src[0], p.plan.heads, p.plan.q_per_group);
      if (p.plan.add != 0)
        for (float& x : data) x += p.plan.add;
      write_as(file, data, p.type);
    });
  }
  log("writing ", planned.size(), " tensors (", params, " parameters) to ", out);
  auto result = w.write(out);
  io::ModelInfo info;
  info.path = out;
  info.format = "gguf";
  info.arch = family->arch();
  info.quant = ctx.file_type == 0 ? "F32" : ctx.file_type == 1 ? "F16" : "BF16";
  info.params = params;
  info.bytes = result.bytes;
  info.sha256 = result.sha256;
  return info;
}

}  // namespace tf
