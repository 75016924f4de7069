#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "convert/naming.h"
#include "tf/atomic_file.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/half.h"
#include "tf/log.h"
#include "tf/rng.h"
#include "tf/thread_pool.h"

namespace tf {
namespace {

enum class Init { Weight, Ones, Zeros };

struct SynthTensor {
  std::string name;
  Shape shape;  // PyTorch order
  Init init;
};

// Tensor lists in the order llama.cpp's converter writes them (checkpoint
// names sorted), so synthetic files look like converted ones.
std::vector<SynthTensor> llama_tensors(const SynthSpec& s) {
  int64_t e = s.n_embd, f = s.n_ff, hd = s.n_embd / s.n_head, kv = hd * s.n_head_kv;
  std::vector<SynthTensor> t = {{"output.weight", {s.n_vocab, e}, Init::Weight},
                                {"token_embd.weight", {s.n_vocab, e}, Init::Weight}};
  std::vector<std::string> layers;
  for (uint32_t i = 0; i < s.n_layer; ++i) layers.push_back(std::to_string(i));
  std::sort(layers.begin(), layers.end());  // 0, 1, 10, 11, ..., 2 like sorted HF names
  for (const auto& i : layers) {
    std::string b = "blk." + i + ".";
    t.push_back({b + "attn_norm.weight", {e}, Init::Ones});
    t.push_back({b + "ffn_down.weight", {e, f}, Init::Weight});
    t.push_back({b + "ffn_gate.weight", {f, e}, Init::Weight});
    t.push_back({b + "ffn_up.weight", {f, e}, Init::Weight});
    t.push_back({b + "ffn_norm.weight", {e}, Init::Ones});
    t.push_back({b + "attn_k.weight", {kv, e}, Init::Weight});
    t.push_back({b + "attn_output.weight", {e, e}, Init::Weight});
    t.push_back({b + "attn_q.weight", {e, e}, Init::Weight});
    t.push_back({b + "attn_v.weight", {kv, e}, Init::Weight});
  }
  t.push_back({"output_norm.weight", {e}, Init::Ones});
  return t;
}

std::vector<SynthTensor> gpt2_tensors(const SynthSpec& s) {
  int64_t e = s.n_embd, f = s.n_ff;
  std::vector<std::string> layers;
  for (uint32_t i = 0; i < s.n_layer; ++i) layers.push_back(std::to_string(i));
  std::sort(layers.begin(), layers.end());
  std::vector<SynthTensor> t;
  for (const auto& i : layers) {
    std::string b = "blk." + i + ".";
    t.push_back({b + "attn_qkv.bias", {3 * e}, Init::Zeros});
    t.push_back({b + "attn_qkv.weight", {3 * e, e}, Init::Weight});
    t.push_back({b + "attn_output.bias", {e}, Init::Zeros});
    t.push_back({b + "attn_output.weight", {e, e}, Init::Weight});
    t.push_back({b + "attn_norm.bias", {e}, Init::Zeros});
    t.push_back({b + "attn_norm.weight", {e}, Init::Ones});
    t.push_back({b + "ffn_norm.bias", {e}, Init::Zeros});
    t.push_back({b + "ffn_norm.weight", {e}, Init::Ones});
    t.push_back({b + "ffn_up.bias", {f}, Init::Zeros});
    t.push_back({b + "ffn_up.weight", {f, e}, Init::Weight});
    t.push_back({b + "ffn_down.bias", {e}, Init::Zeros});
    t.push_back({b + "ffn_down.weight", {e, f}, Init::Weight});
  }
  t.push_back({"output_norm.bias", {e}, Init::Zeros});
  t.push_back({"output_norm.weight", {e}, Init::Ones});
  t.push_back({"position_embd.weight", {s.n_ctx, e}, Init::Weight});
  t.push_back({"token_embd.weight", {s.n_vocab, e}, Init::Weight});
  t.push_back({"output.weight", {s.n_vocab, e}, Init::Weight});
  return t;
}

std::vector<SynthTensor> bert_tensors(const SynthSpec& s) {
  int64_t e = s.n_embd, f = s.n_ff;
  std::vector<SynthTensor> t = {{"token_embd_norm.bias", {e}, Init::Zeros},
                                {"token_embd_norm.weight", {e}, Init::Ones},
                                {"position_embd.weight", {s.n_ctx, e}, Init::Weight},
                                {"token_types.weight", {s.type_vocab, e}, Init::Weight},
                                {"token_embd.weight", {s.n_vocab, e}, Init::Weight}};
  std::vector<std::string> layers;
  for (uint32_t i = 0; i < s.n_layer; ++i) layers.push_back(std::to_string(i));
  std::sort(layers.begin(), layers.end());
  for (const auto& i : layers) {
    std::string b = "blk." + i + ".";
    for (const char* n : {"attn_output_norm"}) {
      t.push_back({b + n + ".bias", {e}, Init::Zeros});
      t.push_back({b + n + ".weight", {e}, Init::Ones});
    }
    for (const char* n : {"attn_output", "attn_k", "attn_q", "attn_v"}) {
      t.push_back({b + n + ".bias", {e}, Init::Zeros});
      t.push_back({b + n + ".weight", {e, e}, Init::Weight});
    }
    t.push_back({b + "ffn_up.bias", {f}, Init::Zeros});
    t.push_back({b + "ffn_up.weight", {f, e}, Init::Weight});
    t.push_back({b + "layer_output_norm.bias", {e}, Init::Zeros});
    t.push_back({b + "layer_output_norm.weight", {e}, Init::Ones});
    t.push_back({b + "ffn_down.bias", {e}, Init::Zeros});
    t.push_back({b + "ffn_down.weight", {e, f}, Init::Weight});
  }
  return t;
}

// A SentencePiece-style vocabulary that tokenizes any text: the three
// specials, 256 byte-fallback pieces, then "▁" and printable ASCII pieces.
void builtin_vocab(gguf::Writer& w, uint32_t n_vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    tokens.push_back(buf);
    types.push_back(6);
  }
  tokens.push_back("\xe2\x96\x81");
  types.push_back(1);
  for (char c = '!'; c <= '~'; ++c) {
    tokens.emplace_back(1, c);
    types.push_back(1);
  }
  if (n_vocab < tokens.size()) fail("the built-in vocabulary needs a vocab size of at least ", tokens.size());
  for (size_t i = tokens.size(); i < n_vocab; ++i) {
    tokens.push_back("[PAD" + std::to_string(i) + "]");
    types.push_back(5);
  }
  std::vector<float> scores(tokens.size(), 0.0f);
  for (size_t i = 0; i < tokens.size(); ++i) scores[i] = types[i] == 1 ? -float(i) : types[i] == 5 ? -10000.0f : 0.0f;
  using gguf::Value;
  w.set("tokenizer.ggml.model", Value::string("llama"));
  w.set("tokenizer.ggml.pre", Value::string("default"));
  w.set("tokenizer.ggml.tokens", Value::string_array(tokens));
  w.set("tokenizer.ggml.scores", Value::f32_array(scores));
  w.set("tokenizer.ggml.token_type", Value::i32_array(types));
  w.set("tokenizer.ggml.bos_token_id", Value::u32(1));
  w.set("tokenizer.ggml.eos_token_id", Value::u32(2));
  w.set("tokenizer.ggml.unknown_token_id", Value::u32(0));
  w.set("tokenizer.ggml.add_space_prefix", Value::boolean(true));
}

constexpr size_t kChunk = 1 << 16;  // elements per independently seeded chunk

// Fills [begin, end) of a tensor's elements; chunks are seeded by (seed,
// tensor, chunk index), so the bytes do not depend on the thread count.
void fill_chunk(float* dst, size_t n, Init init, uint64_t seed, uint64_t tensor, uint64_t chunk) {
  if (init != Init::Weight) {
    std::fill(dst, dst + n, init == Init::Ones ? 1.0f : 0.0f);
    return;
  }
  Rng rng(seed * 0x9e3779b97f4a7c15ull ^ (tensor << 32) ^ chunk);
  // uniform with the standard deviation of a typical init (0.02)
  const float a = 0.02f * std::sqrt(3.0f);
  for (size_t i = 0; i < n; ++i) dst[i] = (2.0f * rng.uniform() - 1.0f) * a;
}

}  // namespace

std::vector<std::string> synth_preset_names() {
  return {"tiny-llama", "tinyllama-1.1b", "llama-7b", "llama3-8b", "gpt2-124m", "bert-base"};
}

SynthSpec synth_preset(const std::string& name) {
  SynthSpec s;
  if (name == "tiny-llama") {
    s = {"llama", 4, 256, 768, 8, 4, 512, 512, 1e-5f, 10000.0f, 2};
  } else if (name == "tinyllama-1.1b") {
    s = {"llama", 22, 2048, 5632, 32, 4, 2048, 32000, 1e-5f, 10000.0f, 2};
  } else if (name == "llama-7b") {
    s = {"llama", 32, 4096, 11008, 32, 32, 4096, 32000, 1e-5f, 10000.0f, 2};
  } else if (name == "llama3-8b") {
    s = {"llama", 32, 4096, 14336, 32, 8, 8192, 128256, 1e-5f, 500000.0f, 2};
  } else if (name == "gpt2-124m") {
    s = {"gpt2", 12, 768, 3072, 12, 12, 1024, 50257, 1e-5f, 10000.0f, 2};
  } else if (name == "bert-base") {
    s = {"bert", 12, 768, 3072, 12, 12, 512, 30522, 1e-12f, 10000.0f, 2};
  } else {
    std::string all;
    for (const auto& n : synth_preset_names()) all += (all.empty() ? "" : ", ") + n;
    fail("unknown preset '", name, "' (known: ", all, ")");
  }
  return s;
}

io::ModelInfo synth_model(const SynthSpec& spec_in, const std::string& out, const SynthOptions& options) {
  SynthSpec spec = spec_in;
  if (spec.arch != "llama" && spec.arch != "gpt2" && spec.arch != "bert")
    fail("synth: --arch must be llama, gpt2 or bert (got '", spec.arch, "')");
  if (spec.n_layer == 0 || spec.n_embd == 0 || spec.n_ff == 0 || spec.n_head == 0 || spec.n_ctx == 0)
    fail("synth: layers, embedding, feed-forward, heads and context must all be > 0");
  if (spec.n_head_kv == 0) spec.n_head_kv = spec.n_head;
  if (spec.n_embd % spec.n_head || spec.n_head % spec.n_head_kv)
    fail("synth: the embedding size must split into heads, and heads into kv heads");

  std::unique_ptr<gguf::File> vocab;
  if (!options.vocab.empty()) {
    vocab = std::make_unique<gguf::File>(gguf::File::open(options.vocab));
    const gguf::Value* tokens = vocab->find("tokenizer.ggml.tokens");
    if (!tokens) fail(options.vocab, ": no tokenizer.ggml.tokens");
    spec.n_vocab = uint32_t(tokens->size());
  } else if (spec.arch != "llama") {
    fail("synth: ", spec.arch, " models need --vocab FILE.gguf (the built-in vocabulary is SentencePiece-style)");
  }
  if (spec.n_vocab == 0) fail("synth: vocabulary size must be > 0");

  DType wide;
  uint32_t file_type;
  if (options.outtype == "f32") {
    wide = DType::F32;
    file_type = 0;
  } else if (options.outtype == "f16") {
    wide = DType::F16;
    file_type = 1;
  } else if (options.outtype == "bf16") {
    wide = DType::BF16;
    file_type = 32;
  } else {
    fail("--outtype must be f32, f16 or bf16 (got '", options.outtype, "')");
  }

  std::vector<SynthTensor> tensors = spec.arch == "llama" ? llama_tensors(spec)
                                     : spec.arch == "gpt2" ? gpt2_tensors(spec)
                                                           : bert_tensors(spec);
  uint64_t params = 0;
  for (const auto& t : tensors) {
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= uint64_t(d);
    params += n;
  }

  using gguf::Value;
  const std::string& a = spec.arch;
  gguf::Writer w;
  w.set("general.architecture", Value::string(a));
  w.set("general.type", Value::string("model"));
  w.set("general.name", Value::string(options.name.empty() ? "synth " + a : options.name));
  w.set("general.size_label", Value::string(convert::size_label(params)));
  w.set(a + ".block_count", Value::u32(spec.n_layer));
  w.set(a + ".context_length", Value::u32(spec.n_ctx));
  w.set(a + ".embedding_length", Value::u32(spec.n_embd));
  w.set(a + ".feed_forward_length", Value::u32(spec.n_ff));
  w.set(a + ".attention.head_count", Value::u32(spec.n_head));
  if (a == "llama") {
    w.set(a + ".attention.head_count_kv", Value::u32(spec.n_head_kv));
    if (spec.rope_theta != 10000.0f) w.set(a + ".rope.freq_base", Value::f32(spec.rope_theta));
    w.set(a + ".attention.layer_norm_rms_epsilon", Value::f32(spec.norm_eps));
  } else {
    w.set(a + ".attention.layer_norm_epsilon", Value::f32(spec.norm_eps));
  }
  w.set("general.file_type", Value::u32(file_type));
  if (a == "llama") {
    w.set(a + ".vocab_size", Value::u32(spec.n_vocab));
    w.set(a + ".rope.dimension_count", Value::u32(spec.n_embd / spec.n_head));
  }
  if (a == "bert") {
    w.set(a + ".attention.causal", Value::boolean(false));
    w.set("tokenizer.ggml.token_type_count", Value::u32(spec.type_vocab));
  }
  if (vocab) {
    for (const auto& kv : vocab->metadata())
      if (kv.key.rfind("tokenizer.", 0) == 0 && kv.key != "tokenizer.ggml.token_type_count") w.set(kv.key, kv.value);
  } else {
    builtin_vocab(w, spec.n_vocab);
  }
  w.set("general.quantization_version", Value::u32(2));

  for (size_t ti = 0; ti < tensors.size(); ++ti) {
    const SynthTensor& t = tensors[ti];
    bool f32 = t.shape.size() <= 1 || t.name.ends_with("_norm.weight") || t.name == "position_embd.weight" ||
               t.name == "token_types.weight";
    DType type = f32 ? DType::F32 : wide;
    w.add_tensor(t.name, type, {t.shape.rbegin(), t.shape.rend()}, [&t, type, ti, &options](AtomicFile& file) {
      uint64_t n = 1;
      for (int64_t d : t.shape) n *= uint64_t(d);
      size_t esize = element_size(type);
      const size_t batch = kChunk * 64;  // elements generated per write
      std::vector<float> f(std::min<uint64_t>(n, batch));
      std::vector<uint8_t> bytes(f.size() * esize);
      for (uint64_t start = 0; start < n; start += batch) {
        size_t count = size_t(std::min<uint64_t>(batch, n - start));
        size_t chunks = (count + kChunk - 1) / kChunk;
        default_pool().parallel_for(chunks, 1, [&](size_t b, size_t e, int) {
          for (size_t c = b; c < e; ++c) {
            size_t off = c * kChunk, len = std::min(kChunk, count - off);
            fill_chunk(f.data() + off, len, t.init, options.seed, ti, (start + off) / kChunk);
            if (type == DType::F16)
              f32_to_f16(f.data() + off, reinterpret_cast<uint16_t*>(bytes.data()) + off, len);
            else if (type == DType::BF16)
              f32_to_bf16(f.data() + off, reinterpret_cast<uint16_t*>(bytes.data()) + off, len);
            else
              std::memcpy(bytes.data() + off * 4, f.data() + off, len * 4);
          }
        });
        file.write(bytes.data(), count * esize);
      }
    });
  }
  log("writing synthetic ", a, " model: ", tensors.size(), " tensors, ", params, " parameters");
  auto result = w.write(out);
  io::ModelInfo info{out, "gguf", a, options.outtype == "f32" ? "F32" : options.outtype == "f16" ? "F16" : "BF16",
                     params, result.bytes, result.sha256};
  return info;
}

}  // namespace tf
