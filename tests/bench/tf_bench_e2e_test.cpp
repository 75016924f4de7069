// The built tf-bench on a one-layer synthetic llama: records and their
// fields, every format, `-m -`, budgets, compare's exit codes, --probe,
// --plot, `| head -1`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/run_tool.h"

namespace tf {
namespace {

using nlohmann::json;
using test::run_shell;

std::vector<json> records(const std::string& out) { return test::json_records(out); }

class TfBench : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string((std::filesystem::temp_directory_path() / ("tf-bench-e2e-" + std::to_string(::getpid()))).string());
    std::filesystem::create_directories(*dir_);
    auto r = run_shell("tf-convert synth --preset tiny-llama --layers 1 -o " + model());
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  static std::string model() { return *dir_ + "/m.gguf"; }
  static std::string path(const std::string& f) { return *dir_ + "/" + f; }
  static std::string* dir_;
};
std::string* TfBench::dir_ = nullptr;

}  // namespace

TEST_F(TfBench, ProfileSharesAddUpAndNameTheOperations) {
  auto r = run_shell("tf-bench -m " + model() + " -p 8 -n 4 -r 2 -t 1 --profile");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const json& rec : records(r.out)) {
    ASSERT_TRUE(rec.contains("profile")) << rec.dump();
    double share = 0;
    bool linear = false, attention = false;
    for (const json& op : rec["profile"]) {
      EXPECT_GE(op["ms"].get<double>(), 0.0);
      share += op["share"].get<double>();
      linear |= op["op"] == "linear";
      attention |= op["op"] == "attention";
    }
    EXPECT_TRUE(linear && attention) << rec["profile"].dump();
    EXPECT_NEAR(share, 1.0, 0.02) << rec["profile"].dump();  // "other" closes the gap
    EXPECT_EQ(rec["profile"].back()["op"], "other");
  }
  auto plain = run_shell("tf-bench -m " + model() + " -p 8 -n 0 -r 1 -t 1");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_FALSE(records(plain.out).at(0).contains("profile"));
  auto md = run_shell("tf-bench -m " + model() + " -p 8 -n 0 -r 1 -t 1 --profile -o md");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| test | op | calls/run | ms/run | share |"), std::string::npos) << md.out;
}

TEST_F(TfBench, PromptAndGenerationRecords) {
  auto r = run_shell("tf-bench -m " + model() + " -p 16 -n 4 -r 2 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto recs = records(r.out);
  ASSERT_EQ(recs.size(), 2u);
  const json& pp = recs[0];
  const json& tg = recs[1];
  EXPECT_EQ(pp["type"], "bench");
  EXPECT_EQ(pp["test"], "pp16");
  EXPECT_EQ(pp["n_prompt"], 16);
  EXPECT_EQ(pp["n_gen"], 0);
  EXPECT_EQ(pp["n_threads"], 1);
  EXPECT_EQ(pp["n_batch"], 512);
  EXPECT_EQ(pp["repetitions"], 2);
  EXPECT_EQ(pp["samples_ns"].size(), 2u);
  EXPECT_EQ(pp["samples_ts"].size(), 2u);
  EXPECT_GT(pp["avg_ts"].get<double>(), 0);
  EXPECT_GT(pp["pp_tok_per_s"].get<double>(), 0);
  EXPECT_FALSE(pp.contains("p50_ms"));
  EXPECT_EQ(pp["model_filename"], model());
  EXPECT_GT(pp["model_size"].get<uint64_t>(), 0u);
  EXPECT_GT(pp["model_n_params"].get<uint64_t>(), 0u);
  EXPECT_NEAR(pp["bits_per_weight"].get<double>(), 16, 0.5);  // tiny-llama synth is f16
  EXPECT_NE(pp["model_type"].get<std::string>().find("llama"), std::string::npos);
  EXPECT_GT(pp["peak_rss_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(pp["load_ms"].get<double>(), 0);
  EXPECT_FALSE(pp["build_commit"].get<std::string>().empty());
  EXPECT_FALSE(pp["test_time"].get<std::string>().empty());
  EXPECT_EQ(tg["test"], "tg4");
  for (const char* k : {"ttft_ms", "p50_ms", "p90_ms", "p99_ms", "tg_tok_per_s"}) EXPECT_GT(tg[k].get<double>(), 0) << k;
  EXPECT_LE(tg["p50_ms"].get<double>(), tg["p99_ms"].get<double>());
}

TEST_F(TfBench, SweepAndPromptGenerationTest) {
  auto r = run_shell("tf-bench -m " + model() + "," + model() + " -p 8 -n 0 -pg 8,2 -b 4,8 -r 1 -t 1 --no-warmup");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto recs = records(r.out);
  ASSERT_EQ(recs.size(), 8u);  // 2 models x 2 batch sizes x (pp8, pp8+tg2)
  EXPECT_EQ(recs[1]["test"], "pp8+tg2");
  EXPECT_EQ(recs[1]["n_prompt"], 8);
  EXPECT_EQ(recs[1]["n_gen"], 2);
  EXPECT_EQ(recs[2]["n_batch"], 8);
}

TEST_F(TfBench, ModelFromStdin) {
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 1 -o " + path("s.gguf") +
                     " | tf-bench -m - -p 8 -n 2 -r 1 -t 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto recs = records(r.out);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["model_filename"], path("s.gguf"));
}

TEST_F(TfBench, OtherFormats) {
  std::string base = "tf-bench -m " + model() + " -p 8 -n 2 -r 1 -t 1 -o ";
  auto csv = run_shell(base + "csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_EQ(std::count(csv.out.begin(), csv.out.end(), '\n'), 3);
  EXPECT_EQ(csv.out.rfind("build_commit,", 0), 0u);
  auto md = run_shell(base + "md");
  ASSERT_EQ(md.exit_code, 0) << md.err;
  EXPECT_NE(md.out.find("| pp8 |"), std::string::npos);
  auto js = run_shell(base + "json");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  EXPECT_EQ(json::parse(js.out).size(), 2u);
  auto sql = run_shell(base + "sql");
  ASSERT_EQ(sql.exit_code, 0) << sql.err;
  EXPECT_EQ(sql.out.rfind("CREATE TABLE", 0), 0u);
  EXPECT_NE(sql.out.find("INSERT INTO test"), std::string::npos);
  EXPECT_EQ(run_shell(base + "xml").exit_code, 2);
}

TEST_F(TfBench, Budgets) {
  std::string base = "tf-bench -m " + model() + " -p 0 -n 2 -r 1 -t 1 --budget ";
  auto ok = run_shell(base + "ttft_ms=100000,tg_tok_per_s=0.001");
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  auto miss = run_shell(base + "ttft_ms=0.000001,tg_tok_per_s=1e12");
  EXPECT_EQ(miss.exit_code, 1);
  EXPECT_NE(miss.err.find("tf-bench: budget missed: tg2 "), std::string::npos) << miss.err;
  EXPECT_NE(miss.err.find("tg_tok_per_s"), std::string::npos) << miss.err;
  EXPECT_NE(miss.err.find("tf-bench: error: 2 budgets missed"), std::string::npos) << miss.err;
  EXPECT_EQ(records(miss.out).size(), 1u);  // the record is still written
  EXPECT_EQ(run_shell(base + "speed=3").exit_code, 2);
}

TEST_F(TfBench, CompareGate) {
  auto write = [&](const std::string& name, std::vector<double> samples) {
    json r = {{"type", "bench"}, {"test", "tg128"}, {"n_threads", 2}, {"n_batch", 512}, {"model_filename", "m.gguf"},
              {"samples_ts", samples}};
    double s = 0;
    for (double x : samples) s += x;
    r["avg_ts"] = s / double(samples.size());
    std::ofstream(path(name)) << r.dump() << "\n";
  };
  write("base.jsonl", {100, 101, 99, 100.5, 99.5});
  write("slow.jsonl", {90, 91, 89, 90.5, 89.5});
  write("same.jsonl", {101, 99.5, 100, 98.5, 100.5});
  auto fail = run_shell("tf-bench compare " + path("base.jsonl") + " " + path("slow.jsonl") + " --max-regression 5%");
  EXPECT_EQ(fail.exit_code, 1) << fail.err;
  EXPECT_EQ(records(fail.out)[0]["verdict"], "regression");
  EXPECT_NE(fail.err.find("| tg128 t2 b512 m.gguf |"), std::string::npos) << fail.err;
  auto pass = run_shell("tf-bench compare " + path("base.jsonl") + " " + path("same.jsonl"));
  EXPECT_EQ(pass.exit_code, 0) << pass.err;
  auto md = run_shell("tf-bench compare " + path("base.jsonl") + " " + path("slow.jsonl") + " --max-regression 15% -o md");
  EXPECT_EQ(md.exit_code, 0) << md.err;
  EXPECT_EQ(md.out.rfind("| configuration |", 0), 0u);
  EXPECT_EQ(run_shell("tf-bench compare " + path("base.jsonl") + " " + path("missing.jsonl")).exit_code, 1);
}

TEST_F(TfBench, ProbePlotAndHead) {
  auto probe = run_shell("tf-bench --probe");
  ASSERT_EQ(probe.exit_code, 0) << probe.err;
  json m = json::parse(probe.out);
  EXPECT_EQ(m["type"], "machine");
  EXPECT_GT(m["logical_cpus"].get<int>(), 0);
  EXPECT_GT(m["mem_total_bytes"].get<uint64_t>(), 0u);
  EXPECT_GT(m["read_gb_per_s_1_thread"].get<double>(), 0);
  auto plot = run_shell("tf-bench -m " + model() + " -p 8 -n 2 -r 1 -t 1 --plot " + path("p.svg"));
  ASSERT_EQ(plot.exit_code, 0) << plot.err;
  std::ifstream svg(path("p.svg"));
  std::string text((std::istreambuf_iterator<char>(svg)), {});
  EXPECT_EQ(text.rfind("<svg", 0), 0u);
  EXPECT_NE(text.find("tg2"), std::string::npos);
  auto head = run_shell("tf-bench -m " + model() + " -p 8,8,8 -n 0 -r 1 -t 1 | head -1; exit ${PIPESTATUS[0]}");
  EXPECT_EQ(head.exit_code, 0) << head.err;
  EXPECT_EQ(records(head.out).size(), 1u);
  EXPECT_EQ(run_shell("tf-bench -p 8").exit_code, 2);
}

}  // namespace tf

namespace tf {

TEST_F(TfBench, TokenizerThroughput) {
  std::ofstream(path("t.txt")) << std::string(2000, 'a') << " hello world\n";
  auto r = run_shell("tf-bench tokenize -m " + model() + " -f " + path("t.txt") + " -r 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json rec = json::parse(r.out);
  EXPECT_EQ(rec["test"], "tokenize");
  EXPECT_EQ(rec["bytes"], 2013);
  EXPECT_GT(rec["n_tokens"].get<int>(), 0);
  EXPECT_EQ(rec["samples_mb_per_s"].size(), 3u);
  EXPECT_GT(rec["avg_mb_per_s"].get<double>(), 0);
}

}  // namespace tf
