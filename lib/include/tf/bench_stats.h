// Statistics for benchmark samples: summaries, percentiles and the
// Mann-Whitney U test that tf-bench compare uses so that run-to-run noise is
// not reported as a regression.
#pragma once
#include <cstddef>
#include <vector>

namespace tf::bench {

struct Summary {
  size_t n = 0;
  double mean = 0, stddev = 0, median = 0, min = 0, max = 0;  // stddev: sample (n - 1)
};

Summary summarize(const std::vector<double>& xs);  // all zeros for an empty input

// The p-th percentile (0..100) with linear interpolation between closest
// ranks (numpy's default); tf::Error for an empty input.
double percentile(std::vector<double> xs, double p);

struct MannWhitney {
  double u_a = 0;      // U statistic of the first sample: pairs (a, b) with a > b, ties count 1/2
  double p_value = 1;  // two-sided
  bool exact = false;  // exact null distribution (small samples, no ties) or normal approximation
};

// Two-sided Mann-Whitney U test. Exact when both samples have at most 20
// values and there are no ties; otherwise the normal approximation with tie
// and continuity corrections (as scipy.stats.mannwhitneyu). p = 1 when either
// sample is empty.
MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b);

// The smallest two-sided p-value the exact test can give for these sizes:
// with 3 + 3 samples it is 0.1, so no difference is ever significant at 5%.
double min_p_value(size_t n_a, size_t n_b);

}  // namespace tf::bench
