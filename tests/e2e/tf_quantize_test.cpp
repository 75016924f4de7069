// The built tf-quantize (and tf-run imatrix): records, llama.cpp-identical
// output files, overrides, importance matrices, errors and atomic outputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/run_tool.h"
#include "tf/gguf.h"
#include "tf/imatrix.h"

namespace tf {
namespace fs = std::filesystem;
using nlohmann::json;
using test::run_shell;

namespace {

std::vector<json> records(const std::string& out) { return test::json_records(out); }

// A small deterministic model: 2 blocks of the tiny-llama preset.
std::string make_model(const test::TempDir& dir) {
  std::string path = dir / "tiny.gguf";
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 2 --seed 7 -t 1 -o " + path);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return path;
}

std::string text_file(const test::TempDir& dir) {
  std::string path = dir / "text.txt";
  std::ofstream out(path);
  for (int i = 0; i < 200; ++i) out << "the quick brown fox " << i << " jumps over the lazy dog, and then it rests. ";
  return path;
}

}  // namespace

// sha256 of what llama-quantize (llama.cpp de3ff81) writes for the model
// above: `llama-quantize tiny.gguf out.gguf TYPE 1`.
TEST(TfQuantize, WritesWhatLlamaQuantizeWrites) {
  test::TempDir dir;
  std::string model = make_model(dir);
  const std::pair<const char*, const char*> cases[] = {
      {"q4_k_m", "30c2e08ed24e8e2fc763eab9b26de9ca056f5da8877efd4c2444d9f967ab2955"},
      {"Q8_0", "c37c7c648034bcfb5e3691b3caf1ca6e16ed9f522cc9eed8429c99d1a13bbf86"},
      {"IQ4_XS", "e41c84395abea0772ea0b60548fc96fc459424614e6b188b33442de8389e34b2"},
      {"Q3_K_S", "78d3c42bf44f09f284029aa23cb7ba069d74b36eb9ad7c78c4187f59e910c7c2"},
  };
  for (const auto& [type, sha] : cases) {
    auto r = run_shell("tf-quantize " + model + " " + (dir / "out.gguf") + " " + type + " -t 2");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto recs = records(r.out);
    ASSERT_EQ(recs.size(), 21u + 2u) << r.out;  // a record per tensor, model, report
    EXPECT_EQ(recs[21]["type"], "model");
    EXPECT_EQ(recs[21]["sha256"], sha) << type;
    EXPECT_EQ(recs[22]["type"], "report");
    EXPECT_GT(recs[22]["bits_per_weight"].get<double>(), 3.0);
    for (size_t i = 0; i < 21; ++i) {
      EXPECT_EQ(recs[i]["type"], "tensor");
      EXPECT_FALSE(recs[i]["reason"].get<std::string>().empty());
    }
  }
}

TEST(TfQuantize, PipelineOverridesAndReport) {
  test::TempDir dir;
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 2 --seed 7 -t 1 -o " + (dir / "m.gguf") +
                     " | tf-quantize - " + (dir / "q.gguf") + " Q4_K_M --tensor-type ffn_down=q4_k --tensor-type attn_q=q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto recs = records(r.out);
  ASSERT_FALSE(recs.empty());
  int downs = 0;
  for (const json& t : recs) {
    if (t["type"] != "tensor") continue;
    std::string name = t["name"];
    if (name.find("ffn_down") != std::string::npos) {
      ++downs;
      EXPECT_EQ(t["to"], "q4_K") << name;  // the mix would give layer 0 q6_K: the override wins
      EXPECT_EQ(t["reason"], "--tensor-type ffn_down=q4_K");
    }
    if (name.find("attn_q") != std::string::npos) {
      EXPECT_EQ(t["to"], "q8_0");
    }
    if (t["to"] != t["from"]) {
      EXPECT_GT(t["rmse"].get<double>(), 0.0) << name;
    }
  }
  EXPECT_EQ(downs, 2);
  const json& rep = recs.back();
  EXPECT_EQ(rep["type"], "report");
  EXPECT_EQ(rep["file_type"], "Q4_K_M");
  EXPECT_TRUE(rep["by_type"].contains("q8_0"));
  gguf::File f = gguf::File::open(dir / "q.gguf");
  EXPECT_EQ(f.get_u64("general.file_type", 0), 15u);
  EXPECT_EQ(f.get_u64("general.quantization_version", 0), 2u);
}

TEST(TfQuantize, ErrorsLeaveNoFile) {
  test::TempDir dir;
  std::string model = make_model(dir);
  std::string out = dir / "out.gguf";
  auto bad = run_shell("tf-quantize " + model + " " + out + " Q4_K_X");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err.rfind("tf-quantize: error: unknown type", 0), 0u) << bad.err;
  auto need = run_shell("tf-quantize " + model + " " + out + " IQ2_XXS");
  EXPECT_EQ(need.exit_code, 1);
  EXPECT_NE(need.err.find("requires an importance matrix"), std::string::npos) << need.err;
  EXPECT_EQ(std::count(need.err.begin(), need.err.end(), '\n'), 1) << need.err;
  EXPECT_EQ(run_shell("tf-quantize " + model).exit_code, 2);
  EXPECT_EQ(run_shell("tf-quantize " + model + " " + out + " q4_0 --tensor-type nonsense").exit_code, 1);
  auto dry = run_shell("tf-quantize " + model + " " + out + " q4_0 --dry-run");
  EXPECT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(records(dry.out).back()["type"], "report");
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  // requantizing needs the flag
  ASSERT_EQ(run_shell("tf-quantize " + model + " " + (dir / "q8.gguf") + " q8_0").exit_code, 0);
  EXPECT_EQ(run_shell("tf-quantize " + (dir / "q8.gguf") + " " + out + " q4_0").exit_code, 1);
  EXPECT_EQ(run_shell("tf-quantize " + (dir / "q8.gguf") + " " + out + " q4_0 --allow-requantize").exit_code, 0);
}

TEST(TfQuantize, ImatrixBothFormatsAndEval) {
  test::TempDir dir;
  std::string model = make_model(dir);
  std::string text = text_file(dir);
  for (std::string fmt : {"gguf", "dat"}) {
    std::string im = dir / ("im." + fmt);
    auto r = run_shell("tf-run imatrix -m " + model + " -f " + text + " -c 64 --chunks 4 -o " + im + " --output-format " + fmt);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json rec = records(r.out).back();
    EXPECT_EQ(rec["type"], "imatrix");
    EXPECT_EQ(rec["entries"], 14);  // 7 weights in each of 2 blocks
    EXPECT_EQ(rec["chunks"], 4);
    quant::Imatrix m = quant::Imatrix::load(im);
    EXPECT_EQ(m.legacy, fmt == "dat");
    EXPECT_EQ(m.entries.size(), 14u);
    auto q = run_shell("tf-quantize " + model + " " + (dir / "q.gguf") + " IQ2_XS --imatrix " + im);
    ASSERT_EQ(q.exit_code, 0) << q.err;
    for (const json& t : records(q.out))
      if (t["type"] == "tensor" && std::string(t["name"]).rfind("blk.", 0) == 0 && t["to"] != "f32") {
        EXPECT_TRUE(t["imatrix"].get<bool>()) << t.dump();
      }
  }
  auto e = run_shell("tf-quantize " + model + " " + (dir / "e.gguf") + " Q4_0 --eval-text " + text + " -c 64 --chunks 3");
  ASSERT_EQ(e.exit_code, 0) << e.err;
  json ev = records(e.out).back()["eval"];
  EXPECT_GT(ev["ppl_base"].get<double>(), 1.0);
  EXPECT_GE(ev["kld_mean"].get<double>(), 0.0);
  EXPECT_GE(ev["kld_max"].get<double>(), ev["kld_p99"].get<double>());
  EXPECT_EQ(ev["tokens"], 3 * 31);
}

TEST(TfQuantize, HuggingFaceFolderIsConvertedFirst) {
  TF_REQUIRE_SHARED_MODELS();
  test::TempDir dir;
  std::string folder = (test::shared_models() / "parity" / "llama").string();
  auto direct = run_shell("tf-quantize " + folder + " " + (dir / "a.gguf") + " q4_k_m");
  ASSERT_EQ(direct.exit_code, 0) << direct.err;
  auto piped = run_shell("tf-convert hf " + folder + " --outtype auto -o " + (dir / "f.gguf") + " | tf-quantize - " +
                         (dir / "b.gguf") + " q4_k_m");
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(records(direct.out).at(records(direct.out).size() - 2)["sha256"],
            records(piped.out).at(records(piped.out).size() - 2)["sha256"]);
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

}  // namespace tf
