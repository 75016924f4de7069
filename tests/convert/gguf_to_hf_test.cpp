// GGUF -> HF folder, checked by converting back and by the reference libraries'
// own readers (sentencepiece for tokenizer.model).
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <cstring>
#include <filesystem>

#include "common/test_paths.h"
#include "tf/convert.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"
#include "tf/safetensors.h"

namespace tf {
namespace fs = std::filesystem;

namespace {

// Same tensors (names, types, dims, bytes) and the same tokenizer keys.
void expect_same_model(const std::string& a_path, const std::string& b_path) {
  gguf::File a = gguf::File::open(a_path), b = gguf::File::open(b_path);
  ASSERT_EQ(a.tensors().size(), b.tensors().size());
  for (const auto& ta : a.tensors()) {
    const gguf::TensorInfo* tb = b.find_tensor(ta.name);
    ASSERT_NE(tb, nullptr) << ta.name;
    EXPECT_EQ(ta.type, tb->type) << ta.name;
    EXPECT_EQ(ta.ne, tb->ne) << ta.name;
    EXPECT_EQ(std::memcmp(a.tensor_data(ta), b.tensor_data(*tb), ta.nbytes), 0) << ta.name;
  }
  for (const auto& kv : a.metadata()) {
    if (kv.key.rfind("tokenizer.", 0) != 0 && kv.key.rfind(a.architecture() + ".", 0) != 0) continue;
    const gguf::Value* other = b.find(kv.key);
    ASSERT_NE(other, nullptr) << "missing key " << kv.key;
    EXPECT_TRUE(kv.value == *other) << kv.key;
  }
}

}  // namespace

TEST(GgufToHf, LlamaRoundTripsThroughHuggingFace) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  std::string reference = (test::shared_models() / "trained" / "llama-shakespeare" / "llama-shakespeare-f16.gguf").string();
  io::ModelInfo hf = convert_gguf_to_hf(reference, dir / "hf");
  EXPECT_EQ(hf.format, "hf");
  EXPECT_EQ(hf.params, 11340032u);
  auto config = read_json_file(dir / "hf/config.json");
  EXPECT_EQ(config["num_key_value_heads"], 4);
  EXPECT_EQ(config["tie_word_embeddings"], true);
  // q_proj is back in HF's layout: equal to the original checkpoint (f16 of bf16)
  auto original = safetensors::File::open((test::shared_models() / "trained/llama-shakespeare/model.safetensors").string());
  auto exported = safetensors::File::open(dir / "hf/model.safetensors");
  EXPECT_EQ(exported.find("model.layers.0.self_attn.q_proj.weight")->shape,
            original.find("model.layers.0.self_attn.q_proj.weight")->shape);
  Tensor q_orig = original.tensor("model.layers.2.self_attn.k_proj.weight").to(DType::F32);
  Tensor q_back = exported.tensor("model.layers.2.self_attn.k_proj.weight").to(DType::F32);
  for (int64_t i = 0; i < q_orig.numel(); i += 97)
    EXPECT_NEAR(q_back.data_as<float>()[i], q_orig.data_as<float>()[i], 1e-7f + 1e-3f * std::fabs(q_orig.data_as<float>()[i]));

  // sentencepiece reads the exported tokenizer.model and tokenizes as llama does
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load((dir.path() / "hf" / "tokenizer.model").string()).ok());
  EXPECT_EQ(sp.GetPieceSize(), 32000);
  std::vector<int> ids;
  ASSERT_TRUE(sp.Encode("Hello world, this is a test.", &ids).ok());
  EXPECT_EQ(ids, (std::vector<int>{15043, 3186, 29892, 445, 338, 263, 1243, 29889}));

  HfToGgufOptions opts;
  opts.name = "Llama Shakespeare";
  convert_hf_to_gguf(dir / "hf", dir / "again.gguf", opts);
  expect_same_model(reference, dir / "again.gguf");
}

TEST(GgufToHf, Gpt2AndBertRoundTrip) {
  TF_REQUIRE_SHARED_MODELS();
  for (const char* name : {"gpt2-shakespeare", "bert-shakespeare"}) {
    SCOPED_TRACE(name);
    test::TempDir dir;
    convert_hf_to_gguf((test::shared_models() / "trained" / name).string(), dir / "a.gguf", {});
    convert_gguf_to_hf(dir / "a.gguf", dir / "hf");
    convert_hf_to_gguf(dir / "hf", dir / "b.gguf", {});
    expect_same_model(dir / "a.gguf", dir / "b.gguf");
  }
}

TEST(GgufToHf, RefusesWhatItCannotExport) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  // a vocabulary-only GGUF has no weights
  EXPECT_THROW(convert_gguf_to_hf((test::shared_models() / "tokenizers" / "ggml-vocab-gpt-2.gguf").string(), dir / "x"),
               Error);
}

}  // namespace tf
