// HF folder -> GGUF against what llama.cpp's own converter wrote from the
// same folders (../shared/models).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/test_paths.h"
#include "convert/naming.h"
#include "tf/atomic_file.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/half.h"
#include "tf/safetensors.h"

namespace tf {
namespace fs = std::filesystem;

namespace {

// Reports the first difference between two GGUF files, or "" when equal in
// metadata (keys, order, types, values) and tensors (names, order, types,
// dims, bytes).
std::string gguf_difference(const std::string& a_path, const std::string& b_path) {
  gguf::File a = gguf::File::open(a_path), b = gguf::File::open(b_path);
  const auto &ma = a.metadata(), &mb = b.metadata();
  for (size_t i = 0; i < std::max(ma.size(), mb.size()); ++i) {
    if (i >= ma.size()) return "missing key " + mb[i].key;
    if (i >= mb.size()) return "extra key " + ma[i].key;
    if (ma[i].key != mb[i].key) return "key #" + std::to_string(i) + ": " + ma[i].key + " vs " + mb[i].key;
    if (!(ma[i].value == mb[i].value)) return "value of " + ma[i].key + " differs";
  }
  const auto &ta = a.tensors(), &tb = b.tensors();
  if (ta.size() != tb.size()) return "tensor count " + std::to_string(ta.size()) + " vs " + std::to_string(tb.size());
  for (size_t i = 0; i < ta.size(); ++i) {
    if (ta[i].name != tb[i].name) return "tensor #" + std::to_string(i) + ": " + ta[i].name + " vs " + tb[i].name;
    if (ta[i].type != tb[i].type) return "type of " + ta[i].name;
    if (ta[i].ne != tb[i].ne) return "dims of " + ta[i].name;
    if (std::memcmp(a.tensor_data(ta[i]), b.tensor_data(tb[i]), ta[i].nbytes) != 0) return "data of " + ta[i].name;
  }
  return "";
}

}  // namespace

TEST(Naming, TitlesLikeLlamaCpp) {
  EXPECT_EQ(convert::id_to_title("llama-shakespeare"), "Llama Shakespeare");
  EXPECT_EQ(convert::id_to_title("gpt2-shakespeare"), "Gpt2 Shakespeare");
  EXPECT_EQ(convert::id_to_title("parity_llama_tok"), "Parity_Llama_Tok");
  EXPECT_EQ(convert::id_to_title("TinyLlama-1.1B-v1.0"), "TinyLlama 1.1B v1.0");
  EXPECT_EQ(convert::id_to_title("llama"), "Llama");
}

TEST(Naming, SizeLabels) {
  EXPECT_EQ(convert::size_label(11340032), "11M");
  EXPECT_EQ(convert::size_label(202048), "202K");
  EXPECT_EQ(convert::size_label(1234567), "1.2M");
  EXPECT_EQ(convert::size_label(163037184), "163M");
  EXPECT_EQ(convert::size_label(500), "0.50K");
  EXPECT_EQ(convert::size_label(1100048384), "1.1B");
}

TEST(HfToGguf, LlamaShakespeareIsByteIdenticalToLlamaCpp) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  fs::path src = test::shared_models() / "trained" / "llama-shakespeare";
  std::string out = dir / "llama-shakespeare-f16.gguf";
  HfToGgufOptions opts;
  opts.outtype = "f16";
  io::ModelInfo info = convert_hf_to_gguf(src.string(), out, opts);
  EXPECT_EQ(info.arch, "llama");
  EXPECT_EQ(info.params, 11340032u);
  std::string reference = (src / "llama-shakespeare-f16.gguf").string();
  EXPECT_EQ(gguf_difference(out, reference), "");
  EXPECT_EQ(info.sha256, "3569173f17a01a02dd570d7b25b2cd7c42d0b8261806f6cc2b01a833d3ce7a73");
  EXPECT_EQ(info.bytes, fs::file_size(reference));
}

TEST(HfToGguf, ParityLlamaF32IsByteIdenticalToLlamaCpp) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  fs::path src = test::shared_models() / "parity" / "llama";
  std::string out = dir / "llama-parity-f32.gguf";
  HfToGgufOptions opts;
  opts.outtype = "f32";
  // llama.cpp's run converted this folder under another folder name
  opts.name = "Parity_Llama_Tok";
  io::ModelInfo info = convert_hf_to_gguf(src.string(), out, opts);
  std::string reference = (src / "llama-parity-f32.gguf").string();
  EXPECT_EQ(gguf_difference(out, reference), "");
  EXPECT_EQ(info.sha256, sha256_file(reference));
}

TEST(HfToGguf, Gpt2FollowsLlamaCppLayout) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  fs::path src = test::shared_models() / "trained" / "gpt2-shakespeare";
  std::string out = dir / "gpt2.gguf";
  io::ModelInfo info = convert_hf_to_gguf(src.string(), out, {});
  gguf::File f = gguf::File::open(out);
  std::vector<std::string> keys;
  for (const auto& kv : f.metadata()) keys.push_back(kv.key);
  std::vector<std::string> expected = {
      "general.architecture", "general.type", "general.name", "general.size_label", "gpt2.block_count",
      "gpt2.context_length", "gpt2.embedding_length", "gpt2.feed_forward_length", "gpt2.attention.head_count",
      "gpt2.attention.layer_norm_epsilon", "general.file_type", "tokenizer.ggml.model", "tokenizer.ggml.pre",
      "tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id",
      "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id", "general.quantization_version"};
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(f.get("general.name").as_string(), "Gpt2 Shakespeare");
  EXPECT_EQ(f.get("tokenizer.ggml.pre").as_string(), "gpt-2");
  EXPECT_EQ(f.get("gpt2.feed_forward_length").as_u64(), 1024u);
  EXPECT_EQ(f.get("tokenizer.ggml.merges").size(), 50000u);
  // same vocabulary as llama.cpp's GPT-2 vocab file
  gguf::File vocab = gguf::File::open((test::shared_models() / "tokenizers" / "ggml-vocab-gpt-2.gguf").string());
  EXPECT_TRUE(f.get("tokenizer.ggml.tokens") == vocab.get("tokenizer.ggml.tokens"));
  EXPECT_TRUE(f.get("tokenizer.ggml.token_type") == vocab.get("tokenizer.ggml.token_type"));
  EXPECT_TRUE(f.get("tokenizer.ggml.merges") == vocab.get("tokenizer.ggml.merges"));
  // output.weight duplicates the tied embedding, right after it
  const auto& ts = f.tensors();
  ASSERT_GE(ts.size(), 2u);
  EXPECT_EQ(ts[ts.size() - 2].name, "token_embd.weight");
  EXPECT_EQ(ts.back().name, "output.weight");
  EXPECT_EQ(std::memcmp(f.tensor_data(ts.back()), f.tensor_data(ts[ts.size() - 2]), ts.back().nbytes), 0);
  EXPECT_EQ(f.find_tensor("position_embd.weight")->type, DType::F32);
  // Conv1D weights are transposed: GGUF attn_qkv [768 rows of 256] = c_attn.weight^T
  auto st = safetensors::File::open((src / "model.safetensors").string());
  Tensor c_attn = st.tensor("transformer.h.0.attn.c_attn.weight");  // [256, 768] f16
  const gguf::TensorInfo* qkv = f.find_tensor("blk.0.attn_qkv.weight");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(qkv->shape(), (Shape{768, 256}));
  const uint16_t* g = reinterpret_cast<const uint16_t*>(f.tensor_data(*qkv));
  const uint16_t* h = c_attn.data_as<uint16_t>();
  for (int r : {0, 5, 767})
    for (int c : {0, 100, 255}) EXPECT_EQ(g[r * 256 + c], h[c * 768 + r]) << r << "," << c;
  EXPECT_EQ(info.params, 16156416u + 50257u * 256u);  // + the duplicated output
}

TEST(HfToGguf, BertUsesPhantomSpaceVocabulary) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  fs::path src = test::shared_models() / "trained" / "bert-shakespeare";
  std::string out = dir / "bert.gguf";
  convert_hf_to_gguf(src.string(), out, {});
  gguf::File f = gguf::File::open(out);
  EXPECT_EQ(f.architecture(), "bert");
  EXPECT_FALSE(f.get("bert.attention.causal").as_bool());
  EXPECT_EQ(f.get("tokenizer.ggml.token_type_count").as_u64(), 2u);
  EXPECT_EQ(f.get("tokenizer.ggml.cls_token_id").as_u64(), 101u);
  EXPECT_EQ(f.get("tokenizer.ggml.mask_token_id").as_u64(), 103u);
  // llama.cpp's bge vocabulary file spells the tokens the same way
  gguf::File vocab = gguf::File::open((test::shared_models() / "tokenizers" / "ggml-vocab-bert-bge.gguf").string());
  EXPECT_TRUE(f.get("tokenizer.ggml.tokens") == vocab.get("tokenizer.ggml.tokens"));
  EXPECT_TRUE(f.get("tokenizer.ggml.token_type") == vocab.get("tokenizer.ggml.token_type"));
  for (const char* key : {"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.seperator_token_id",
                          "tokenizer.ggml.padding_token_id", "tokenizer.ggml.cls_token_id"})
    EXPECT_EQ(f.get(key).as_u64(), vocab.get(key).as_u64()) << key;
  EXPECT_EQ(f.find_tensor("cls.predictions.bias"), nullptr);
  EXPECT_NE(f.find_tensor("blk.3.layer_output_norm.weight"), nullptr);
  EXPECT_EQ(f.find_tensor("token_types.weight")->type, DType::F32);
  EXPECT_EQ(f.find_tensor("token_embd.weight")->type, DType::F16);
  EXPECT_EQ(f.tensors().front().name, "token_embd_norm.bias");
}

TEST(HfToGguf, OuttypeAutoAndBf16) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  fs::path src = test::shared_models() / "trained" / "llama-shakespeare";  // bf16 checkpoint -> auto = bf16
  HfToGgufOptions opts;
  opts.outtype = "auto";
  io::ModelInfo info = convert_hf_to_gguf(src.string(), dir / "a.gguf", opts);
  EXPECT_EQ(info.quant, "BF16");
  gguf::File f = gguf::File::open(dir / "a.gguf");
  EXPECT_EQ(f.get("general.file_type").as_u64(), 32u);
  // bf16 -> bf16 is exact: token_embd equals the checkpoint's bytes
  auto st = safetensors::File::open((src / "model.safetensors").string());
  Tensor emb = st.tensor("model.embed_tokens.weight");
  const gguf::TensorInfo* t = f.find_tensor("token_embd.weight");
  ASSERT_EQ(t->type, DType::BF16);
  EXPECT_EQ(std::memcmp(f.tensor_data(*t), emb.data(), t->nbytes), 0);
}

TEST(HfToGguf, BadFoldersFailCleanly) {
  test::TempDir dir;
  EXPECT_THROW(convert_hf_to_gguf((dir.path() / "missing").string(), dir / "x.gguf", {}), Error);
  std::ofstream(dir / "config.json") << R"({"architectures":["WhisperForConditionalGeneration"]})";
  try {
    convert_hf_to_gguf(dir.path().string(), dir / "x.gguf", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("WhisperForConditionalGeneration"), std::string::npos);
  }
  std::ofstream(dir / "config.json") << "{not json";
  EXPECT_THROW(convert_hf_to_gguf(dir.path().string(), dir / "x.gguf", {}), Error);
  EXPECT_FALSE(fs::exists(dir / "x.gguf"));
}

}  // namespace tf
