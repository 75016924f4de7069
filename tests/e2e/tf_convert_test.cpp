// The built tf-convert binary: records on stdout, errors and exit codes,
// pipes, atomic outputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/run_tool.h"
#include "tf/gguf.h"

namespace tf {
namespace fs = std::filesystem;
using nlohmann::json;
using test::run_shell;

namespace {
json single_record(const std::string& out) {
  std::istringstream lines(out);
  std::string line, last;
  int n = 0;
  while (std::getline(lines, line)) {
    last = line;
    ++n;
  }
  EXPECT_EQ(n, 1) << out;
  return json::parse(last);
}
}  // namespace

TEST(TfConvert, HelpVersionAndUsageErrors) {
  auto help = run_shell("tf-convert --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("synth"), std::string::npos);
  EXPECT_EQ(run_shell("tf-convert synth --help").exit_code, 0);
  auto version = run_shell("tf-convert --version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("tf-convert"), std::string::npos);
  auto usage = run_shell("tf-convert hf");
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(usage.out, "");
  EXPECT_EQ(usage.err.rfind("tf-convert: error: ", 0), 0u) << usage.err;
  EXPECT_EQ(run_shell("tf-convert --no-such-flag").exit_code, 2);
  EXPECT_EQ(run_shell("tf-convert").exit_code, 2);
}

TEST(TfConvert, FailuresAreOneLineAndExitOne) {
  test::TempDir dir;
  auto r = run_shell("tf-convert info " + (dir / "missing.gguf"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err.rfind("tf-convert: error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  std::ofstream(dir / "junk.gguf") << "GGUF but not really";
  EXPECT_EQ(run_shell("tf-convert info " + (dir / "junk.gguf")).exit_code, 1);
}

TEST(TfConvert, SynthIsDeterministicAcrossThreadCounts) {
  test::TempDir dir;
  auto a = run_shell("tf-convert synth --preset tiny-llama --layers 2 --seed 7 -t 1 -o " + (dir / "a.gguf"));
  auto b = run_shell("tf-convert synth --preset tiny-llama --layers 2 --seed 7 -t 2 -o " + (dir / "b.gguf"));
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  json ra = single_record(a.out), rb = single_record(b.out);
  EXPECT_EQ(ra["type"], "model");
  EXPECT_EQ(ra["arch"], "llama");
  EXPECT_EQ(ra["quant"], "F16");
  EXPECT_EQ(ra["sha256"], rb["sha256"]);
  EXPECT_EQ(ra["bytes"].get<uint64_t>(), fs::file_size(dir / "a.gguf"));
  auto c = run_shell("tf-convert synth --preset tiny-llama --layers 2 --seed 8 -o " + (dir / "c.gguf"));
  EXPECT_NE(single_record(c.out)["sha256"], ra["sha256"]);

  gguf::File f = gguf::File::open(dir / "a.gguf");
  EXPECT_EQ(f.get("llama.block_count").as_u64(), 2u);
  EXPECT_EQ(f.find_tensor("blk.1.ffn_gate.weight")->shape(), (Shape{768, 256}));
  EXPECT_EQ(f.find_tensor("blk.1.attn_k.weight")->shape(), (Shape{128, 256}));
  EXPECT_EQ(f.find_tensor("token_embd.weight")->shape(), (Shape{512, 256}));
  EXPECT_EQ(f.find_tensor("output_norm.weight")->type, DType::F32);
  EXPECT_EQ(f.get("tokenizer.ggml.model").as_string(), "llama");
}

TEST(TfConvert, PipesModelRecordsIntoInfo) {
  test::TempDir dir;
  auto r = run_shell("tf-convert synth --arch llama --layers 1 --embd 64 --ff 128 --heads 4 --kv-heads 2 --ctx 64 "
                     "--vocab-size 400 --outtype f32 -o " + (dir / "m.gguf") + " | tf-convert info - --tensors");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json info = single_record(r.out);
  EXPECT_EQ(info["type"], "info");
  EXPECT_EQ(info["format"], "gguf");
  EXPECT_EQ(info["arch"], "llama");
  EXPECT_EQ(info["metadata"]["llama.attention.head_count_kv"], 2);
  EXPECT_EQ(info["metadata"]["tokenizer.ggml.tokens"]["n"], 400);
  EXPECT_EQ(info["tensors"].size(), 2u + 9u + 1u);
  EXPECT_EQ(info["params"], 400 * 64 * 2 + 64 + 64 * 2 + 3 * 64 * 128 + 64 * 64 * 2 + 32 * 64 * 2);
}

TEST(TfConvert, ClosedStdoutIsQuiet) {
  test::TempDir dir;
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 1 -o " + (dir / "m.gguf") +
                     " | true; echo \"status=${PIPESTATUS[0]}\" >&2");
  EXPECT_NE(r.err.find("status=0"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
}

TEST(TfConvert, FailedWriteLeavesNoFile) {
  test::TempDir dir;
  auto r = run_shell("tf-convert synth --preset tiny-llama --layers 1 -o " + (dir / "no/such/dir/m.gguf"));
  EXPECT_EQ(r.exit_code, 1);
  // interrupted mid-write: neither the model nor its temporary file remain
  auto term = run_shell("timeout -s TERM 0.5 tf-convert synth --preset tinyllama-1.1b --layers 4 -o " +
                        (dir / "big.gguf"));
  EXPECT_EQ(term.exit_code, 124) << "the run should still have been writing when interrupted";
  EXPECT_FALSE(fs::exists(dir / "big.gguf"));
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

}  // namespace tf
