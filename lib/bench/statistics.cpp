#include "tf/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "tf/error.h"

namespace tf::bench {

Summary summarize(const std::vector<double>& xs) {
  Summary s;
  s.n = xs.size();
  if (xs.empty()) return s;
  s.mean = std::accumulate(xs.begin(), xs.end(), 0.0) / double(s.n);
  double ss = 0;
  for (double x : xs) ss += (x - s.mean) * (x - s.mean);
  s.stddev = s.n > 1 ? std::sqrt(ss / double(s.n - 1)) : 0.0;
  auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
  s.min = *lo;
  s.max = *hi;
  s.median = percentile(xs, 50);
  return s;
}

double percentile(std::vector<double> xs, double p) {
  if (xs.empty()) fail("percentile of an empty sample");
  std::sort(xs.begin(), xs.end());
  double rank = std::clamp(p, 0.0, 100.0) / 100.0 * double(xs.size() - 1);
  size_t i = size_t(rank);
  if (i + 1 >= xs.size()) return xs.back();
  return xs[i] + (rank - double(i)) * (xs[i + 1] - xs[i]);
}

namespace {

// Number of arrangements of n_a "a" and n_b "b" values giving each U in
// 0..n_a*n_b, by the recurrence f(m, n, u) = f(m-1, n, u-n) + f(m, n-1, u)
// (the largest value is either an a, beating all n b's, or a b).
std::vector<double> u_counts(size_t n_a, size_t n_b) {
  // table[m][n] as a vector over u, built bottom-up in n for each m
  std::vector<std::vector<std::vector<double>>> f(n_a + 1, std::vector<std::vector<double>>(n_b + 1));
  for (size_t m = 0; m <= n_a; ++m) {
    for (size_t n = 0; n <= n_b; ++n) {
      std::vector<double>& cur = f[m][n];
      cur.assign(m * n + 1, 0.0);
      if (m == 0 || n == 0) {
        cur[0] = 1;
        continue;
      }
      const auto& take_a = f[m - 1][n];
      const auto& take_b = f[m][n - 1];
      for (size_t u = 0; u < take_b.size(); ++u) cur[u] += take_b[u];
      for (size_t u = 0; u < take_a.size(); ++u) cur[u + n] += take_a[u];
    }
  }
  return f[n_a][n_b];
}

double exact_two_sided(double u, size_t n_a, size_t n_b) {
  std::vector<double> counts = u_counts(n_a, n_b);
  double total = std::accumulate(counts.begin(), counts.end(), 0.0);
  double lo = 0, hi = 0;
  for (size_t k = 0; k < counts.size(); ++k) {
    if (double(k) <= u) lo += counts[k];
    if (double(k) >= u) hi += counts[k];
  }
  return std::min(1.0, 2.0 * std::min(lo, hi) / total);
}

}  // namespace

MannWhitney mann_whitney_u(const std::vector<double>& a, const std::vector<double>& b) {
  MannWhitney r;
  if (a.empty() || b.empty()) return r;
  size_t n_a = a.size(), n_b = b.size(), n = n_a + n_b;
  std::vector<std::pair<double, int>> all;
  all.reserve(n);
  for (double x : a) all.push_back({x, 0});
  for (double x : b) all.push_back({x, 1});
  std::sort(all.begin(), all.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  double rank_sum_a = 0, tie_term = 0;
  bool ties = false;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && all[j].first == all[i].first) ++j;
    double t = double(j - i), mid_rank = (double(i + 1) + double(j)) / 2;
    if (t > 1) ties = true;
    tie_term += t * t * t - t;
    for (size_t k = i; k < j; ++k)
      if (all[k].second == 0) rank_sum_a += mid_rank;
    i = j;
  }
  r.u_a = rank_sum_a - double(n_a) * double(n_a + 1) / 2;
  if (!ties && n_a <= 20 && n_b <= 20) {
    r.exact = true;
    r.p_value = exact_two_sided(r.u_a, n_a, n_b);
    return r;
  }
  double mean = double(n_a) * double(n_b) / 2;
  double var = double(n_a) * double(n_b) / 12 * (double(n + 1) - tie_term / (double(n) * double(n - 1)));
  if (var <= 0) return r;  // every value equal
  double z = std::max(0.0, std::fabs(r.u_a - mean) - 0.5) / std::sqrt(var);
  r.p_value = std::min(1.0, std::erfc(z / std::sqrt(2.0)));
  return r;
}

double min_p_value(size_t n_a, size_t n_b) {
  if (n_a == 0 || n_b == 0) return 1;
  return exact_two_sided(0, std::min<size_t>(n_a, 20), std::min<size_t>(n_b, 20));
}

}  // namespace tf::bench
