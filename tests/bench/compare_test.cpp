// compare: an injected 10% slow-down with consistent samples is a
// regression; noise within the threshold is not; too few samples fall back
// on the ratio; Google Benchmark JSON is read with repetitions as samples.
#include <gtest/gtest.h>

#include "tf/bench_compare.h"
#include "tf/error.h"
#include "tf/rng.h"

namespace tf::bench {
namespace {

using json = nlohmann::json;

std::vector<double> noisy(double mean, double rel_noise, int n, uint64_t seed) {
  Rng rng(seed);
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(mean * (1 + rel_noise * (2 * rng.uniform_f64() - 1)));
  return v;
}

std::string jsonl(const std::vector<double>& samples, const std::string& test = "tg128") {
  double sum = 0;
  for (double s : samples) sum += s;
  json r = {{"type", "bench"}, {"test", test},           {"n_threads", 2},
            {"n_batch", 512},  {"model_filename", "/x/m.gguf"}, {"avg_ts", sum / double(samples.size())},
            {"samples_ts", samples}};
  return r.dump() + "\n";
}

std::vector<Comparison> run(const std::vector<double>& base, const std::vector<double>& now) {
  return compare(read_series(jsonl(base), "base"), read_series(jsonl(now), "new"), CompareOptions{});
}

}  // namespace

TEST(BenchCompare, InjectedTenPercentRegressionFails) {
  auto base = noisy(100, 0.01, 5, 1), now = noisy(90, 0.01, 5, 2);
  auto c = run(base, now);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].key, "tg128 t2 b512 m.gguf");
  EXPECT_EQ(c[0].verdict, "regression");
  EXPECT_TRUE(c[0].testable);
  EXPECT_NEAR(c[0].p_value, 2.0 / 252, 1e-9);
  EXPECT_NEAR(c[0].ratio, 0.9, 0.02);
  EXPECT_TRUE(any_regression(c));
}

TEST(BenchCompare, NoiseWithinThresholdPasses) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    auto c = run(noisy(100, 0.03, 5, seed), noisy(100, 0.03, 5, seed + 100));
    EXPECT_FALSE(any_regression(c)) << "seed " << seed << ": " << c[0].verdict;
  }
}

TEST(BenchCompare, LargeButInconsistentDropIsNoise) {
  // means 10% apart, but the samples overlap: not significant
  auto c = run({100, 80, 120, 95, 105}, {90, 110, 70, 100, 80});
  EXPECT_EQ(c[0].verdict, "noise");
  EXPECT_FALSE(any_regression(c));
}

TEST(BenchCompare, TooFewSamplesFallBackOnTheRatio) {
  auto c = run({100, 101, 99}, {90, 89, 91});
  EXPECT_FALSE(c[0].testable);
  EXPECT_EQ(c[0].verdict, "regression");
  c = run({100, 101, 99}, {110, 111, 109});
  EXPECT_EQ(c[0].verdict, "improvement");
}

TEST(BenchCompare, UnmatchedConfigurationsAndIgnoreModel) {
  std::string base = jsonl({100, 100}, "pp512") + jsonl({10, 10}, "tg128");
  std::string now = jsonl({100, 100}, "pp512");
  auto c = compare(read_series(base, "b"), read_series(now, "n"), CompareOptions{});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[1].verdict, "only_in_base");
  auto s = read_series(jsonl({1, 2}), "x", SeriesOptions{true});
  EXPECT_EQ(s[0].key, "tg128 t2 b512");
  json rec = comparison_record(c[0]);
  EXPECT_EQ(rec["type"], "compare");
  EXPECT_EQ(rec["verdict"], "unchanged");
  EXPECT_NE(comparison_table(c).find("| pp512 t2 b512 m.gguf |"), std::string::npos);
}

TEST(BenchCompare, ReadsGoogleBenchmarkJson) {
  json doc = {{"context", {{"num_cpus", 2}}},
              {"benchmarks",
               {{{"name", "matmul/f16"}, {"run_name", "matmul/f16"}, {"run_type", "iteration"}, {"real_time", 2.0},
                 {"time_unit", "ms"}},
                {{"name", "matmul/f16"}, {"run_name", "matmul/f16"}, {"run_type", "iteration"}, {"real_time", 4.0},
                 {"time_unit", "ms"}},
                {{"name", "matmul/f16_mean"}, {"run_name", "matmul/f16"}, {"run_type", "aggregate"},
                 {"real_time", 3.0}, {"time_unit", "ms"}},
                {{"name", "tok"}, {"run_type", "iteration"}, {"real_time", 1.0}, {"items_per_second", 5e6}}}}};
  auto s = read_series(doc.dump(2), "gb.json");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].key, "matmul/f16");
  EXPECT_EQ(s[0].unit, "1/s");
  ASSERT_EQ(s[0].samples.size(), 2u);
  EXPECT_DOUBLE_EQ(s[0].samples[0], 500);
  EXPECT_DOUBLE_EQ(s[0].mean, 375);
  EXPECT_EQ(s[1].unit, "items/s");
  EXPECT_DOUBLE_EQ(s[1].mean, 5e6);
}

TEST(BenchCompare, RejectsOtherInputs) {
  EXPECT_THROW(read_series("", "e"), Error);
  EXPECT_THROW(read_series("not json\n", "e"), Error);
  EXPECT_THROW(read_series("{\"type\":\"model\"}\n", "e"), Error);
  EXPECT_DOUBLE_EQ(parse_percent("5%"), 0.05);
  EXPECT_DOUBLE_EQ(parse_percent("2.5"), 0.025);
  EXPECT_THROW(parse_percent("five"), Error);
}

}  // namespace tf::bench
