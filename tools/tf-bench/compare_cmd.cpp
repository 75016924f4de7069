// compare BASE NEW: per-configuration ratios with a Mann-Whitney U test.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "tf-bench/commands.h"
#include "tf/bench_compare.h"
#include "tf/bench_report.h"
#include "tf/error.h"
#include "tf/records.h"

namespace tf::bench_tool {
namespace {

std::string slurp(const std::string& path) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  s << in.rdbuf();
  return s.str();
}

}  // namespace

void add_compare(CLI::App& app) {
  struct Options {
    std::string base, now, max_regression = "5%", output = "jsonl";
    double alpha = 0.05;
    bool ignore_model = false;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("compare", "compare two runs (tf-bench records or Google Benchmark JSON); "
                                                "exit 1 on a significant regression");
  cmd->add_option("BASE", o->base, "baseline: tf-bench jsonl/json, or --benchmark_format=json output ('-': stdin)")
      ->required();
  cmd->add_option("NEW", o->now, "the run to judge, same formats")->required();
  cmd->add_option("--max-regression", o->max_regression, "slow-down tolerated before failing")->capture_default_str();
  cmd->add_option("--alpha", o->alpha, "significance level of the Mann-Whitney U test")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_flag("--ignore-model", o->ignore_model, "match configurations without the model file name");
  cmd->add_option("-o,--output", o->output, "jsonl (compare records on stdout, table on stderr) | md (table on stdout)")
      ->check(CLI::IsMember({"jsonl", "md"}))
      ->capture_default_str();
  cmd->callback([o] {
    bench::CompareOptions co;
    try {
      co.max_regression = bench::parse_percent(o->max_regression);
    } catch (const Error& e) {
      throw CLI::ValidationError("--max-regression", e.what());
    }
    co.alpha = o->alpha;
    bench::SeriesOptions so{o->ignore_model};
    auto result = bench::compare(bench::read_series(slurp(o->base), o->base, so),
                                 bench::read_series(slurp(o->now), o->now, so), co);
    std::string table = bench::comparison_table(result);
    if (o->output == "md") {
      bench::stdout_sink()(table);
    } else {
      for (const auto& c : result) io::emit(bench::comparison_record(c));
      std::cerr << table;
    }
    size_t n = 0, untested = 0;
    for (const auto& c : result) {
      n += c.verdict == "regression";
      untested += c.verdict == "regression" && !c.testable;
    }
    if (n)
      fail(n, n == 1 ? " configuration" : " configurations", " regressed by more than ", co.max_regression * 100, "%",
           untested ? " (some with too few samples for a significance test: use -r 5 or more)" : "");
  });
}

}  // namespace tf::bench_tool
