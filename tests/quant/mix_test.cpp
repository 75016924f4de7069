#include "tf/quant_mix.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/test_paths.h"
#include "tf/error.h"
#include "tf/gguf.h"
#include "tf/json_file.h"

namespace tf::quant {
namespace {

// Tensor lists of the models the expected types were recorded on (names and
// GGUF shapes as tf-convert writes them).
struct Spec {
  std::string arch;
  int n_layer, embd, ff, heads, kv_heads, vocab;
  bool tied;
  DType weight_type = DType::F16;
};

ModelShape shape_of(const Spec& s) {
  ModelShape m;
  m.arch = s.arch;
  m.n_layer = s.n_layer;
  m.n_head = s.heads;
  m.n_head_kv = s.kv_heads;
  return m;
}

std::vector<TensorDesc> tensors_of(const Spec& s) {
  const uint64_t E = uint64_t(s.embd), F = uint64_t(s.ff), kv = E / uint64_t(s.heads) * uint64_t(s.kv_heads);
  std::vector<TensorDesc> t;
  auto add = [&](std::string name, std::vector<uint64_t> ne, DType type) { t.push_back({std::move(name), std::move(ne), type}); };
  const DType w = s.weight_type;
  add("token_embd.weight", {E, uint64_t(s.vocab)}, w);
  add("output_norm.weight", {E}, DType::F32);
  if (!s.tied) add("output.weight", {E, uint64_t(s.vocab)}, w);
  if (s.arch == "gpt2") add("position_embd.weight", {E, 256}, DType::F32);
  for (int i = 0; i < s.n_layer; ++i) {
    std::string b = "blk." + std::to_string(i) + ".";
    add(b + "attn_norm.weight", {E}, DType::F32);
    if (s.arch == "llama") {
      add(b + "attn_q.weight", {E, E}, w);
      add(b + "attn_k.weight", {E, kv}, w);
      add(b + "attn_v.weight", {E, kv}, w);
      add(b + "ffn_gate.weight", {E, F}, w);
      add(b + "ffn_norm.weight", {E}, DType::F32);
    } else {
      add(b + "attn_qkv.weight", {E, E + 2 * kv}, w);
      add(b + "attn_qkv.bias", {E + 2 * kv}, DType::F32);
    }
    add(b + "attn_output.weight", {E, E}, w);
    add(b + "ffn_up.weight", {E, F}, w);
    add(b + "ffn_down.weight", {F, E}, w);
  }
  std::vector<std::string> names;
  for (const TensorDesc& d : t) names.push_back(d.name);
  std::vector<TensorDesc> ordered;
  for (size_t i : llama_tensor_order(names)) ordered.push_back(t[i]);
  return ordered;
}

// "q6_K,q4_K*5,..." over the 2-D tensors, as the expected file stores them.
std::string run_lengths(const std::vector<TensorDesc>& t, const std::vector<TensorChoice>& c) {
  std::vector<std::string> types;
  for (size_t i = 0; i < t.size(); ++i)
    if (t[i].ne.size() >= 2 && t[i].ne[1] > 1) types.emplace_back(dtype_name(c[i].type));
  std::string out;
  for (size_t i = 0; i < types.size();) {
    size_t j = i;
    while (j < types.size() && types[j] == types[i]) ++j;
    if (!out.empty()) out += ",";
    out += types[i] + (j - i > 1 ? "*" + std::to_string(j - i) : "");
    i = j;
  }
  return out;
}

const Spec* spec(const std::string& label) {
  static const std::map<std::string, Spec> specs = {
      {"tinyllama", {"llama", 22, 2048, 5632, 32, 4, 32000, false}},
      {"odd", {"llama", 8, 288, 800, 6, 2, 1000, false}},
      {"gpt2", {"gpt2", 4, 256, 1024, 4, 4, 50257, false}},
      {"falcon", {"falcon", 2, 64, 256, 4, 2, 1000, true, DType::F32}},
      {"shakespeare", {"llama", 4, 256, 768, 8, 4, 32000, true}},
  };
  auto it = specs.find(label);
  return it == specs.end() ? nullptr : &it->second;
}

MixOptions options_for(const std::string& ftype, const std::string& variant) {
  MixOptions o;
  auto ft = parse_file_type(ftype);
  if (!ft) throw Error("unknown file type " + ftype);
  o.file_type = *ft;
  o.has_imatrix = variant == "imatrix";
  o.pure = variant == "pure";
  o.quantize_output = variant != "leave-output";
  return o;
}

// mix_expected.txt holds llama.cpp's choices: for each model above, every
// file type (general.file_type number) with and without an importance matrix,
// plus Q4_K_M --pure and --leave-output-tensor. Produced with a dev harness
// that runs llama_model_quantize (llama.cpp de3ff81) with dry_run on the
// models written by `tf-convert synth` (tinyllama-1.1b preset; --arch llama
// --layers 8 --embd 288 --ff 800 --heads 6 --kv-heads 2 --vocab-size 1000;
// --arch gpt2 --layers 4 --embd 256 --ff 1024 --heads 4 with the gpt-2
// vocabulary), `tf-convert hf parity/falcon --outtype f32` and
// llama-shakespeare-f16.gguf, and parses the type of every 2-D tensor.
TEST(Mix, MatchesLlamaCppOnEveryFileType) {
  std::ifstream in(std::string(TF_SOURCE_DIR) + "/tests/quant/mix_expected.txt");
  ASSERT_TRUE(in) << "tests/quant/mix_expected.txt missing";
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    std::string label, ftype, variant, expected;
    s >> label >> ftype >> variant >> expected;
    const Spec* sp = spec(label);
    ASSERT_NE(sp, nullptr) << line;
    auto tensors = tensors_of(*sp);
    auto choices = choose_types(shape_of(*sp), tensors, options_for(ftype, variant));
    EXPECT_EQ(run_lengths(tensors, choices), expected) << label << " ftype " << ftype << " " << variant;
    ++checked;
  }
  EXPECT_EQ(checked, 330);
}

TEST(Mix, RealFileMatchesLlamaCpp) {
  TF_REQUIRE_SHARED_MODELS();
  gguf::File f = gguf::File::open((test::shared_models() / "trained/llama-shakespeare/llama-shakespeare-f16.gguf").string());
  auto tensors = ordered_tensors(f);
  auto choices = choose_types(ModelShape::from_gguf(f), tensors, options_for("Q4_K_M", "plain"));
  // llama-quantize llama-shakespeare-f16.gguf out.gguf Q4_K_M
  EXPECT_EQ(run_lengths(tensors, choices), "q6_K,q4_K*17,q6_K*2,q4_K*5,q6_K*2,q4_K*2");
  EXPECT_EQ(tensors.front().name, "output_norm.weight");  // llama.cpp's order: outside blocks first, by name
  EXPECT_EQ(choices.front().reason, "1-D tensor (never quantized)");
}

TEST(Mix, ReasonsSayWhichRuleChose) {
  const Spec& s = *spec("tinyllama");
  auto tensors = tensors_of(s);
  auto choices = choose_types(shape_of(s), tensors, options_for("Q4_K_M", "plain"));
  std::map<std::string, TensorChoice> by;
  for (size_t i = 0; i < tensors.size(); ++i) by[tensors[i].name] = choices[i];
  EXPECT_EQ(by["blk.0.ffn_down.weight"].type, DType::Q6_K);
  EXPECT_EQ(by["blk.0.ffn_down.weight"].reason, "ffn_down: q6_K in a more-bits layer of Q4_K_M (layer 0 of 22)");
  EXPECT_EQ(by["blk.3.ffn_down.weight"].type, DType::Q4_K);
  EXPECT_EQ(by["blk.3.ffn_down.weight"].reason, "base type q4_K of Q4_K_M");
  EXPECT_EQ(by["output.weight"].reason, "output tensor: q6_K in Q4_K_M");
  EXPECT_EQ(by["blk.0.attn_norm.weight"].reason, "1-D tensor (never quantized)");
  EXPECT_FALSE(by["blk.0.attn_norm.weight"].quantizable);
  EXPECT_TRUE(by["blk.0.attn_q.weight"].quantizable);
}

TEST(Mix, FallbackWhenTheRowIsNotWholeBlocks) {
  const Spec& s = *spec("odd");  // 288 columns: no 256-blocks
  auto tensors = tensors_of(s);
  auto choices = choose_types(shape_of(s), tensors, options_for("Q4_K_M", "plain"));
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name == "blk.5.attn_q.weight") {
      EXPECT_EQ(choices[i].type, DType::Q5_0);
      EXPECT_TRUE(choices[i].fallback);
      EXPECT_NE(choices[i].reason.find("fallback q4_K -> q5_0: row length 288 is not a multiple of 256"), std::string::npos)
          << choices[i].reason;
    }
  // 100 columns: not even 32-blocks -> f16
  std::vector<TensorDesc> odd = {{"blk.0.attn_q.weight", {100, 64}, DType::F32}};
  ModelShape m;
  m.arch = "llama";
  m.n_layer = 1;
  auto c = choose_types(m, odd, options_for("Q4_0", "plain"));
  EXPECT_EQ(c[0].type, DType::F16);
}

TEST(Mix, OverridesAlwaysWin) {
  const Spec& s = *spec("tinyllama");
  auto tensors = tensors_of(s);
  MixOptions o = options_for("Q4_K_M", "plain");
  o.overrides.push_back(parse_tensor_override("ffn_down=q4_k"));  // the base type: still beats the mix
  o.overrides.push_back(parse_tensor_override("^output\\.weight$=Q8_0"));
  o.overrides.push_back(parse_tensor_override("blk\\.1\\.attn_q=f16"));
  o.output_tensor_type = DType::Q5_K;
  auto c = choose_types(shape_of(s), tensors, o);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string& n = tensors[i].name;
    if (n.find("ffn_down") != std::string::npos) {
      EXPECT_EQ(c[i].type, DType::Q4_K) << n;
      EXPECT_EQ(c[i].reason, "--tensor-type ffn_down=q4_K");
    }
    if (n == "output.weight") {
      EXPECT_EQ(c[i].type, DType::Q8_0);
    }
    if (n == "blk.1.attn_q.weight") {
      EXPECT_EQ(c[i].type, DType::F16);
    }
    if (n == "blk.2.attn_q.weight") {
      EXPECT_EQ(c[i].type, DType::Q4_K);
    }
  }
  // also in a non-quantized mix, where llama.cpp ignores --tensor-type
  MixOptions f16 = options_for("F16", "plain");
  f16.overrides.push_back(parse_tensor_override("attn_v=q8_0"));
  auto c2 = choose_types(shape_of(s), tensors, f16);
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].name.find("attn_v") != std::string::npos) {
      EXPECT_EQ(c2[i].type, DType::Q8_0);
    }
}

TEST(Mix, ImatrixRequirements) {
  const Spec& s = *spec("tinyllama");
  auto tensors = tensors_of(s);
  auto c = choose_types(shape_of(s), tensors, options_for("IQ2_XXS", "imatrix"));
  int need = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    need += c[i].requires_imatrix;
    if (tensors[i].name == "token_embd.weight" || tensors[i].name == "output.weight") {
      EXPECT_FALSE(c[i].requires_imatrix);
    }
  }
  EXPECT_GT(need, 100);
  auto k = choose_types(shape_of(s), tensors, options_for("Q4_K_M", "plain"));
  for (const auto& x : k) EXPECT_FALSE(x.requires_imatrix);
}

TEST(Mix, FileTypeNames) {
  EXPECT_EQ(parse_file_type("q4_k_m")->type, FileType::MOSTLY_Q4_K_M);
  EXPECT_EQ(parse_file_type("Q4_K")->type, FileType::MOSTLY_Q4_K_M);  // alias
  EXPECT_EQ(parse_file_type("15")->type, FileType::MOSTLY_Q4_K_M);
  EXPECT_EQ(parse_file_type("iq2_xxs")->base, DType::IQ2_XXS);
  EXPECT_EQ(parse_file_type("IQ2_S")->base, DType::IQ2_XS);  // llama.cpp's choice
  EXPECT_TRUE(parse_file_type("COPY")->copy_only);
  EXPECT_FALSE(parse_file_type("Q4_K_X"));
  EXPECT_FALSE(parse_file_type("99"));
  EXPECT_EQ(file_type_name(FileType::MOSTLY_Q4_K_M), "Q4_K_M");
  EXPECT_EQ(file_type_name(FileType::MOSTLY_Q3_K_M), "Q3_K_M");
  EXPECT_THROW(parse_tensor_override("attn_v"), Error);
  EXPECT_THROW(parse_tensor_override("attn_v=q9_9"), Error);
  EXPECT_THROW(parse_tensor_override("=q8_0"), Error);
  EXPECT_THROW(parse_tensor_override("attn_v(=q8_0"), Error);
}

TEST(Mix, RulesFile) {
  test::TempDir dir;
  write_json_file(dir / "rules.json", {{"type", "Q5_K_M"},
                                       {"output_tensor_type", "q8_0"},
                                       {"tensor_types", {{{"pattern", "attn_k"}, {"type", "q6_K"}}}}});
  MixOptions o = options_for("Q4_0", "plain");
  apply_rules_file(dir / "rules.json", o);
  EXPECT_EQ(o.file_type.type, FileType::MOSTLY_Q5_K_M);
  EXPECT_EQ(o.output_tensor_type, DType::Q8_0);
  ASSERT_EQ(o.overrides.size(), 1u);
  EXPECT_EQ(o.overrides[0].type, DType::Q6_K);
  write_json_file(dir / "bad.json", {{"tensor_type", "x"}});
  EXPECT_THROW(apply_rules_file(dir / "bad.json", o), Error);
}

TEST(Mix, ModelShapeFromGguf) {
  TF_REQUIRE_SHARED_MODELS();
  gguf::File f = gguf::File::open((test::shared_models() / "trained/llama-shakespeare/llama-shakespeare-f16.gguf").string());
  ModelShape m = ModelShape::from_gguf(f);
  EXPECT_EQ(m.arch, "llama");
  EXPECT_EQ(m.n_layer, 4);
  EXPECT_EQ(m.n_head, 8);
  EXPECT_EQ(m.n_gqa(), 2);
  EXPECT_FALSE(m.is_70b);
}

}  // namespace
}  // namespace tf::quant
