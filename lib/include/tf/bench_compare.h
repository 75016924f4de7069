// `tf-bench compare BASE NEW`: matches configurations of two benchmark runs
// and decides, per configuration, whether NEW is a regression: slower by more
// than the threshold AND different by a two-sided Mann-Whitney U test over the
// per-repetition samples, so that run-to-run noise is not a regression.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tf::bench {

// One configuration's throughput (higher is better).
struct Series {
  std::string key;              // "tg128 t2 b512 m.gguf", or a Google Benchmark run name
  std::string unit;             // "t/s", "MB/s", "items/s", "1/s"
  std::vector<double> samples;  // one per repetition
  double mean = 0;
};

struct SeriesOptions {
  bool ignore_model = false;  // leave the model file out of the key (comparing quant types or files)
};

// tf-bench records (jsonl, or the json array), or Google Benchmark's
// --benchmark_format=json output (per-repetition runs are the samples;
// aggregates are skipped; items_per_second, else bytes_per_second, else
// 1/real_time). tf::Error naming the file for anything else.
std::vector<Series> read_series(const std::string& text, const std::string& source, const SeriesOptions& options = {});

struct CompareOptions {
  double max_regression = 0.05;  // fraction: 0.05 = 5 % slower
  double alpha = 0.05;           // significance level of the U test
};

struct Comparison {
  std::string key, unit;
  double base = 0, now = 0, ratio = 0;  // ratio = now / base
  double p_value = 1;
  bool exact = false;
  size_t n_base = 0, n_new = 0;
  bool testable = false;  // enough samples that the test can reach alpha
  // "regression", "improvement", "noise" (beyond the threshold but not
  // significant), "unchanged", "only_in_base", "only_in_new"
  std::string verdict;
};

// A regression needs ratio < 1 - max_regression and, when the sample sizes
// allow a significant result at all, p < alpha; with too few samples (fewer
// than 4 + 4 at alpha 0.05) the ratio alone decides.
std::vector<Comparison> compare(const std::vector<Series>& base, const std::vector<Series>& now,
                                const CompareOptions& options);

bool any_regression(const std::vector<Comparison>& c);

nlohmann::json comparison_record(const Comparison& c);  // {"type":"compare",…}
std::string comparison_table(const std::vector<Comparison>& c);  // markdown

// "5%", "5" (percent) or "0.05%"; tf::Error otherwise.
double parse_percent(const std::string& text);

}  // namespace tf::bench
