// Every encoder in ../shared/models against the outputs transformers computed
// (float32, eager attention): last hidden state, all hidden states and the
// masked-LM logits; BERT also through a GGUF our converter writes.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "common/test_paths.h"
#include "tf/convert.h"
#include "tf/encoder.h"
#include "tf/safetensors.h"

namespace tf {
namespace {

struct Golden {
  safetensors::File file;
  std::vector<int32_t> ids(const std::string& key) const {
    Tensor t = file.tensor(key);
    std::vector<int32_t> out;
    for (int64_t i = 0; i < t.numel(); ++i) out.push_back(int32_t(t.data_as<int64_t>()[i]));
    return out;
  }
  std::vector<float> floats(const std::string& key) const {
    Tensor t = file.tensor(key);
    return {t.data_as<float>(), t.data_as<float>() + t.numel()};
  }
};

float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

struct Case {
  std::string folder;
  float tol;
  bool convert = false;  // through tf-convert hf (f32) and the GGUF loader: no MLM head there
};

void check(const Case& c) {
  std::filesystem::path dir = test::shared_models() / c.folder;
  Golden g{safetensors::File::open((dir / "golden.safetensors").string())};
  test::TempDir tmp;
  std::string path = dir.string();
  if (c.convert) {
    HfToGgufOptions opts;
    opts.outtype = "f32";
    path = tmp / "converted-f32.gguf";
    convert_hf_to_gguf(dir.string(), path, opts);
  }
  auto enc = Encoder::load(path);
  EncoderSequence seq{g.ids("input_ids"), {}, {}};
  EncoderOutput out = enc->forward({seq}, true);
  float dh = max_abs_diff(out.last_hidden, g.floats("last_hidden_state"));
  float ds = max_abs_diff(out.hidden_states, g.floats("hidden_states"));
  EXPECT_LE(dh, c.tol);
  EXPECT_LE(ds, c.tol);
  std::printf("[ %s%s ] last_hidden %.3g hidden_states %.3g", c.folder.c_str(), c.convert ? " (gguf)" : "", dh, ds);
  if (!c.convert) {
    ASSERT_EQ(enc->head(), EncoderHead::MaskedLm);
    size_t n = seq.ids.size();
    std::vector<float> logits(n * size_t(enc->mlm_vocab()));
    enc->mlm_logits(out.last_hidden.data(), n, logits.data());
    float dl = max_abs_diff(logits, g.floats("logits"));
    EXPECT_LE(dl, c.tol);
    std::printf(" logits %.3g", dl);
  }
  std::printf("\n");
}

class EncoderGolden : public ::testing::TestWithParam<Case> {};

TEST_P(EncoderGolden, MatchesTransformers) {
  TF_REQUIRE_SHARED_MODELS();
  check(GetParam());
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, EncoderGolden,
    ::testing::Values(Case{"parity/bert", 1e-5f}, Case{"parity/roberta", 1e-5f}, Case{"parity/distilbert", 1e-5f},
                      Case{"parity/electra", 1e-5f}, Case{"parity/albert", 1e-5f},
                      Case{"parity/deberta-v2", 1e-5f}, Case{"trained/bert-shakespeare", 1e-4f},
                      Case{"trained/bert-shakespeare", 1e-4f, true}),  // parity/bert has no tokenizer to convert
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string n = info.param.folder + (info.param.convert ? "_gguf" : "_hf");
      for (char& ch : n)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

// Packing sequences of different lengths into one batch changes nothing:
// each sequence's rows equal a forward pass of that sequence alone.
TEST(EncoderBatch, PackedBatchEqualsSingleSequences) {
  TF_REQUIRE_SHARED_MODELS();
  for (const char* folder : {"parity/bert", "parity/roberta", "parity/deberta-v2"}) {
    SCOPED_TRACE(folder);
    auto enc = Encoder::load((test::shared_models() / folder).string());
    std::vector<EncoderSequence> batch = {{{5, 17, 300, 42, 9}, {}, {}}, {{7, 8}, {}, {}}, {{11, 12, 13, 14, 15, 16, 17}, {}, {}}};
    EncoderOutput all = enc->forward(batch);
    for (size_t s = 0; s < batch.size(); ++s) {
      EncoderOutput one = enc->forward({batch[s]});
      std::vector<float> rows(all.last_hidden.begin() + ptrdiff_t(all.offsets[s] * size_t(all.hidden)),
                              all.last_hidden.begin() + ptrdiff_t(all.offsets[s + 1] * size_t(all.hidden)));
      EXPECT_LE(max_abs_diff(rows, one.last_hidden), 1e-6f);
    }
  }
}

// A padded sequence with attention_mask 0 on the padding gives the real
// tokens the values of the unpadded sequence (HF's padded batches).
TEST(EncoderBatch, MaskedPaddingIsInvisible) {
  TF_REQUIRE_SHARED_MODELS();
  for (const char* folder : {"parity/bert", "parity/deberta-v2"}) {
    SCOPED_TRACE(folder);
    auto enc = Encoder::load((test::shared_models() / folder).string());
    EncoderSequence plain{{5, 17, 300, 42, 9}, {}, {}};
    EncoderSequence padded{{5, 17, 300, 42, 9, 0, 0, 0}, {}, {1, 1, 1, 1, 1, 0, 0, 0}};
    EncoderOutput a = enc->forward({plain}), b = enc->forward({padded});
    std::vector<float> real(b.last_hidden.begin(), b.last_hidden.begin() + ptrdiff_t(5 * size_t(b.hidden)));
    EXPECT_LE(max_abs_diff(real, a.last_hidden), 1e-5f);
  }
}

}  // namespace
}  // namespace tf
