// tf-convert hf for the architectures beyond llama/gpt2/bert, checked against
// llama.cpp's converter as written down in notes/llama-convert-spec.md §8:
// metadata keys in order with their value types, tensor names, order, types
// and the data transformations. That the files compute what transformers does
// is checked by DecoderGolden's *_converted cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/test_paths.h"
#include "convert/hf_vocab.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/model.h"
#include "tf/safetensors.h"

namespace tf {
namespace fs = std::filesystem;
using gguf::ValueType;

namespace {

struct Key {
  std::string name;
  ValueType type;
};

constexpr ValueType U32 = ValueType::UINT32, F32 = ValueType::FLOAT32, STR = ValueType::STRING,
                    BOOL = ValueType::BOOL;

struct ArchCase {
  std::string folder;  // under parity/
  std::string arch;
  std::vector<Key> hparams;  // after general.size_label, before general.quantization_version
};

std::vector<Key> k(const std::string& arch, std::vector<std::pair<std::string, ValueType>> keys) {
  std::vector<Key> out;
  for (auto& [n, t] : keys) out.push_back({n.rfind("general.", 0) == 0 ? n : arch + "." + n, t});
  return out;
}

std::vector<ArchCase> arch_cases() {
  return {
      {"qwen2", "qwen2",
       k("qwen2", {{"block_count", U32}, {"context_length", U32}, {"embedding_length", U32},
                   {"feed_forward_length", U32}, {"attention.head_count", U32}, {"attention.head_count_kv", U32},
                   {"attention.layer_norm_rms_epsilon", F32}, {"general.file_type", U32}})},
      {"phi3", "phi3",
       k("phi3", {{"context_length", U32}, {"rope.scaling.original_context_length", U32}, {"embedding_length", U32},
                  {"feed_forward_length", U32}, {"block_count", U32}, {"attention.head_count", U32},
                  {"attention.head_count_kv", U32}, {"attention.layer_norm_rms_epsilon", F32},
                  {"rope.dimension_count", U32}, {"rope.freq_base", F32}, {"general.file_type", U32},
                  {"attention.sliding_window", U32}})},
      {"gemma", "gemma",
       k("gemma", {{"context_length", U32}, {"embedding_length", U32}, {"block_count", U32},
                   {"feed_forward_length", U32}, {"attention.head_count", U32}, {"attention.head_count_kv", U32},
                   {"attention.layer_norm_rms_epsilon", F32}, {"attention.key_length", U32},
                   {"attention.value_length", U32}, {"general.file_type", U32}})},
      {"stablelm", "stablelm",
       k("stablelm", {{"context_length", U32}, {"embedding_length", U32}, {"block_count", U32},
                      {"feed_forward_length", U32}, {"rope.dimension_count", U32}, {"attention.head_count", U32},
                      {"attention.head_count_kv", U32}, {"use_parallel_residual", BOOL},
                      {"attention.layer_norm_epsilon", F32}, {"general.file_type", U32}})},
      {"gpt_neox", "gptneox",
       k("gptneox", {{"context_length", U32}, {"embedding_length", U32}, {"block_count", U32},
                     {"feed_forward_length", U32}, {"rope.dimension_count", U32}, {"attention.head_count", U32},
                     {"use_parallel_residual", BOOL}, {"attention.layer_norm_epsilon", F32}})},
      {"falcon", "falcon",
       k("falcon", {{"context_length", U32}, {"tensor_data_layout", STR}, {"embedding_length", U32},
                    {"feed_forward_length", U32}, {"block_count", U32}, {"attention.head_count", U32},
                    {"attention.head_count_kv", U32}, {"attention.layer_norm_epsilon", F32},
                    {"general.file_type", U32}})},
  };
}

std::string convert_parity(const std::string& folder, const test::TempDir& dir, const std::string& outtype) {
  HfToGgufOptions opts;
  opts.outtype = outtype;
  std::string out = dir / (folder + "-" + outtype + ".gguf");
  convert_hf_to_gguf((test::shared_models() / "parity" / folder).string(), out, opts);
  return out;
}

}  // namespace

class HfToGgufArch : public ::testing::TestWithParam<ArchCase> {};

TEST_P(HfToGgufArch, MetadataAndTensorsFollowLlamaCpp) {
  TF_REQUIRE_SHARED_MODELS();
  const ArchCase& c = GetParam();
  test::TempDir dir;
  gguf::File f = gguf::File::open(convert_parity(c.folder, dir, "f16"));
  std::vector<Key> expected = {{"general.architecture", STR}, {"general.type", STR}, {"general.name", STR},
                               {"general.size_label", STR}};
  expected.insert(expected.end(), c.hparams.begin(), c.hparams.end());
  // the parity folders have no tokenizer: no tokenizer.* keys at all
  expected.push_back({"general.quantization_version", U32});
  ASSERT_EQ(f.metadata().size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(f.metadata()[i].key, expected[i].name) << "key #" << i;
    EXPECT_EQ(f.metadata()[i].value.type(), expected[i].type) << expected[i].name;
  }
  EXPECT_EQ(f.architecture(), c.arch);
  if (f.find("general.file_type")) {
    EXPECT_EQ(f.get("general.file_type").as_u64(), 1u);
  }
  // f16 keeps 1-D tensors, norms and biases in f32; 2-D weights are f16
  for (const auto& t : f.tensors()) {
    bool wide = t.ne.size() <= 1 || t.name.ends_with("_norm.weight") || !t.name.ends_with(".weight");
    EXPECT_EQ(t.type, wide ? DType::F32 : DType::F16) << t.name;
    EXPECT_EQ(t.name.find("inv_freq"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Parity, HfToGgufArch, ::testing::ValuesIn(arch_cases()),
                         [](const ::testing::TestParamInfo<ArchCase>& info) { return info.param.arch; });

TEST(HfToGgufArchs, Values) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  auto get = [](const gguf::File& f, const std::string& key) { return f.get(key).as_u64(); };
  {
    gguf::File f = gguf::File::open(convert_parity("phi3", dir, "f32"));
    EXPECT_EQ(get(f, "phi3.rope.scaling.original_context_length"), 128u);
    EXPECT_EQ(get(f, "phi3.rope.dimension_count"), 16u);
    EXPECT_EQ(get(f, "phi3.attention.sliding_window"), 0u);  // null -> 0
    EXPECT_FLOAT_EQ(float(f.get("phi3.rope.freq_base").as_f64()), 10000.0f);
    EXPECT_EQ(f.find_tensor("blk.0.attn_qkv.weight")->shape(), (Shape{192, 64}));
    EXPECT_EQ(f.find_tensor("blk.0.ffn_up.weight")->shape(), (Shape{256, 64}));  // [gate | up]
    EXPECT_EQ(f.find_tensor("blk.0.ffn_gate.weight"), nullptr);
  }
  {
    gguf::File f = gguf::File::open(convert_parity("stablelm", dir, "f32"));
    EXPECT_EQ(get(f, "stablelm.rope.dimension_count"), 4u);  // 0.25 of 16
    EXPECT_FALSE(f.get("stablelm.use_parallel_residual").as_bool());
  }
  {
    gguf::File f = gguf::File::open(convert_parity("gpt_neox", dir, "f32"));
    EXPECT_EQ(get(f, "gptneox.rope.dimension_count"), 4u);  // rope_parameters.partial_rotary_factor 0.25
    EXPECT_TRUE(f.get("gptneox.use_parallel_residual").as_bool());
    EXPECT_EQ(f.find("general.file_type"), nullptr);
    EXPECT_NE(f.find_tensor("output.weight"), nullptr);  // untied embed_out
    // query_key_value [head][q|k|v][16] -> all q, all k, all v; the bias too
    auto st = safetensors::File::open((test::shared_models() / "parity/gpt_neox/model.safetensors").string());
    Tensor hf_b = st.tensor("gpt_neox.layers.1.attention.query_key_value.bias");
    Tensor hf_w = st.tensor("gpt_neox.layers.1.attention.query_key_value.weight");
    const float* gb = reinterpret_cast<const float*>(f.tensor_data(*f.find_tensor("blk.1.attn_qkv.bias")));
    const float* gw = reinterpret_cast<const float*>(f.tensor_data(*f.find_tensor("blk.1.attn_qkv.weight")));
    for (int part = 0; part < 3; ++part)
      for (int h = 0; h < 4; ++h)
        for (int d = 0; d < 16; ++d) {
          int g = part * 64 + h * 16 + d, src = (h * 3 + part) * 16 + d;
          ASSERT_EQ(gb[g], hf_b.data_as<float>()[src]);
          ASSERT_EQ(gw[g * 64 + 7], hf_w.data_as<float>()[src * 64 + 7]);
        }
  }
  {
    gguf::File f = gguf::File::open(convert_parity("falcon", dir, "f32"));
    EXPECT_EQ(get(f, "falcon.context_length"), 2048u);  // hard-coded by llama.cpp
    EXPECT_EQ(f.get("falcon.tensor_data_layout").as_string(), "jploski");
    EXPECT_EQ(get(f, "falcon.attention.head_count_kv"), 2u);
    EXPECT_EQ(get(f, "falcon.feed_forward_length"), 256u);
    EXPECT_NE(f.find_tensor("blk.0.attn_norm_2.weight"), nullptr);  // ln_mlp
    EXPECT_EQ(f.find_tensor("output.weight"), nullptr);            // tied
    // [kv group][2 q heads, k, v][16] -> q0 q1 q2 q3, k0 k1, v0 v1
    auto st = safetensors::File::open((test::shared_models() / "parity/falcon/model.safetensors").string());
    Tensor hf_w = st.tensor("transformer.h.0.self_attention.query_key_value.weight");
    const float* gw = reinterpret_cast<const float*>(f.tensor_data(*f.find_tensor("blk.0.attn_qkv.weight")));
    const int src_head[8] = {0, 1, 4, 5, 2, 6, 3, 7};  // output head slot -> input slot
    for (int slot = 0; slot < 8; ++slot)
      for (int d = 0; d < 16; ++d)
        ASSERT_EQ(gw[(slot * 16 + d) * 64 + 3], hf_w.data_as<float>()[(src_head[slot] * 16 + d) * 64 + 3]);
  }
  {
    gguf::File f = gguf::File::open(convert_parity("gemma", dir, "f32"));
    EXPECT_EQ(get(f, "gemma.attention.key_length"), 16u);
    EXPECT_EQ(get(f, "gemma.attention.head_count_kv"), 1u);
    EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
    // RMSNorm (1 + w): the 1 is baked in, for every *norm.weight
    auto st = safetensors::File::open((test::shared_models() / "parity/gemma/model.safetensors").string());
    for (const auto& [hf, gg] : std::vector<std::pair<std::string, std::string>>{
             {"model.norm.weight", "output_norm.weight"},
             {"model.layers.1.post_attention_layernorm.weight", "blk.1.ffn_norm.weight"}}) {
      Tensor t = st.tensor(hf);
      const float* g = reinterpret_cast<const float*>(f.tensor_data(*f.find_tensor(gg)));
      for (int i = 0; i < 64; ++i) ASSERT_EQ(g[i], t.data_as<float>()[i] + 1.0f) << gg;
    }
  }
  {
    gguf::File f = gguf::File::open(convert_parity("qwen2", dir, "f32"));
    // q/k are not permuted (NeoX rope in llama.cpp's qwen2 graph); biases kept
    auto st = safetensors::File::open((test::shared_models() / "parity/qwen2/model.safetensors").string());
    Tensor q = st.tensor("model.layers.0.self_attn.q_proj.weight");
    EXPECT_EQ(std::memcmp(f.tensor_data(*f.find_tensor("blk.0.attn_q.weight")), q.data(), q.nbytes()), 0);
    EXPECT_EQ(f.find_tensor("blk.0.attn_k.bias")->type, DType::F32);
    EXPECT_NE(f.find_tensor("output.weight"), nullptr);
  }
  {
    // Mistral maps to llama; its window is kept (llama.cpp drops it)
    gguf::File f = gguf::File::open(convert_parity("mistral", dir, "f32"));
    EXPECT_EQ(f.architecture(), "llama");
    EXPECT_EQ(get(f, "llama.attention.sliding_window"), 8u);
    EXPECT_EQ(f.metadata()[f.metadata().size() - 2].key, "llama.attention.sliding_window");
  }
}

// Pre-tokenizers named by their Split regex, as llama.cpp's hash table names
// the tokenizers that use them.
TEST(HfToGgufArchs, PreTokenizerFromSplitRegex) {
  test::TempDir dir;
  auto name_for = [&](const std::string& pre) {
    std::ofstream(dir / "tokenizer.json") << R"({"model":{"type":"BPE","vocab":{},"merges":[]},"pre_tokenizer":)"
                                          << pre << "}";
    return convert::detect_pre_tokenizer(dir.path().string());
  };
  const std::string qwen2 =
      R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":false,"use_regex":false}]})";
  const std::string llama3 =
      R"({"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]})";
  EXPECT_EQ(name_for(qwen2), "qwen2");
  EXPECT_EQ(name_for(llama3), "llama-bpe");
  EXPECT_EQ(name_for(R"({"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true})"), "gpt-2");
  EXPECT_THROW(name_for(R"({"type":"Split","pattern":{"Regex":"\\d+"},"behavior":"Isolated","invert":false})"), Error);
}

// GGUF -> HF undoes the converter: HF -> GGUF -> HF -> GGUF gives the same
// tensors, and the exported folder runs like the original.
TEST_P(HfToGgufArch, GgufToHfRoundTrip) {
  TF_REQUIRE_SHARED_MODELS();
  const ArchCase& c = GetParam();
  test::TempDir dir;
  std::string first = convert_parity(c.folder, dir, "f32");
  std::string folder = dir / "exported";
  convert_gguf_to_hf(first, folder);
  HfToGgufOptions opts;
  opts.outtype = "f32";
  std::string second = dir / "second.gguf";
  convert_hf_to_gguf(folder, second, opts);
  gguf::File a = gguf::File::open(first), b = gguf::File::open(second);
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const auto& t : a.tensors()) {
    const gguf::TensorInfo* u = b.find_tensor(t.name);
    ASSERT_NE(u, nullptr) << t.name;
    ASSERT_EQ(t.ne, u->ne) << t.name;
    EXPECT_EQ(std::memcmp(a.tensor_data(t), b.tensor_data(*u), t.nbytes), 0) << t.name;
  }
  for (const auto& kv : a.metadata()) {
    if (kv.key.rfind(c.arch + ".", 0) == 0) {
      EXPECT_TRUE(b.find(kv.key) && *b.find(kv.key) == kv.value) << kv.key;
    }
  }

  auto golden = safetensors::File::open((test::shared_models() / "parity" / c.folder / "golden.safetensors").string());
  Tensor ids64 = golden.tensor("input_ids_1"), expected = golden.tensor("logits_1");
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < ids64.numel(); ++i) ids.push_back(int32_t(ids64.data_as<int64_t>()[i]));
  auto lm = CausalLM::load(folder);
  SessionOptions so;
  so.kv_type = DType::F32;
  Session session(*lm, so);
  ForwardOutputs out;
  out.want_all_logits = true;
  session.eval(ids, &out);
  ASSERT_EQ(out.logits.size(), size_t(expected.numel()));
  float diff = 0;
  for (size_t i = 0; i < out.logits.size(); ++i) diff = std::max(diff, std::fabs(out.logits[i] - expected.data_as<float>()[i]));
  EXPECT_LE(diff, 1e-4f);
}

TEST(HfToGgufArchs, UnsupportedVariantsFailCleanly) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  fs::path src = test::shared_models() / "parity" / "phi3";
  fs::path copy = dir.path() / "phi3-long";
  fs::create_directories(copy);
  fs::copy_file(src / "model.safetensors", copy / "model.safetensors");
  std::ifstream in(src / "config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  config.replace(config.find("\"rope_type\": \"default\""), 22, "\"rope_type\": \"longrope\"");
  std::ofstream(copy / "config.json") << config;
  EXPECT_THROW(convert_hf_to_gguf(copy.string(), dir / "x.gguf", {}), Error);
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
}

}  // namespace tf
