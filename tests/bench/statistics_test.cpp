// Summaries, percentiles and the Mann-Whitney U test against values worked
// out by hand (exact null distributions from the Gaussian binomial
// coefficients; the tied case by the normal approximation formula).
#include <gtest/gtest.h>

#include "tf/bench_stats.h"
#include "tf/error.h"

namespace tf::bench {

TEST(BenchStats, Summary) {
  Summary s = summarize({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(s.n, 8u);
  EXPECT_DOUBLE_EQ(s.mean, 5);
  EXPECT_NEAR(s.stddev, 2.1380899, 1e-6);  // sqrt(32 / 7)
  EXPECT_DOUBLE_EQ(s.median, 4.5);
  EXPECT_DOUBLE_EQ(s.min, 2);
  EXPECT_DOUBLE_EQ(s.max, 9);
  EXPECT_EQ(summarize({}).n, 0u);
  EXPECT_DOUBLE_EQ(summarize({3}).stddev, 0);
}

TEST(BenchStats, PercentilesInterpolateLikeNumpy) {
  std::vector<double> xs = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(percentile(xs, 0), 1);
  EXPECT_DOUBLE_EQ(percentile(xs, 50), 2.5);
  EXPECT_DOUBLE_EQ(percentile(xs, 90), 3.7);
  EXPECT_DOUBLE_EQ(percentile(xs, 100), 4);
  EXPECT_DOUBLE_EQ(percentile({10}, 99), 10);
  EXPECT_THROW(percentile({}, 50), Error);
}

TEST(BenchStats, MannWhitneyExactSmallSamples) {
  // complete separation, 3 + 3: P(U = 0) = 1/20, two-sided 0.1
  MannWhitney r = mann_whitney_u({1, 2, 3}, {4, 5, 6});
  EXPECT_TRUE(r.exact);
  EXPECT_DOUBLE_EQ(r.u_a, 0);
  EXPECT_NEAR(r.p_value, 0.1, 1e-12);
  // 5 + 5: 2 / C(10, 5) = 2 / 252
  r = mann_whitney_u({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(r.u_a, 25);
  EXPECT_NEAR(r.p_value, 2.0 / 252, 1e-12);
  // interleaved: ranks of a = 1, 3, 5, U = 3; P(U <= 3) = (1+1+2+3)/20
  r = mann_whitney_u({1, 3, 5}, {2, 4, 6});
  EXPECT_DOUBLE_EQ(r.u_a, 3);
  EXPECT_NEAR(r.p_value, 0.7, 1e-12);
}

TEST(BenchStats, MannWhitneyNormalApproximationWithTies) {
  // ranks 1, 3, 3 | 3, 5, 6: U = 1; var = 9/12 * (7 - 24/30) = 4.65;
  // z = (|1 - 4.5| - 0.5) / sqrt(4.65) = 1.39121; p = erfc(z / sqrt 2)
  MannWhitney r = mann_whitney_u({1, 2, 2}, {2, 3, 4});
  EXPECT_FALSE(r.exact);
  EXPECT_DOUBLE_EQ(r.u_a, 1);
  EXPECT_NEAR(r.p_value, 0.16416, 5e-4);
  // all equal: no evidence of a difference
  EXPECT_DOUBLE_EQ(mann_whitney_u({1, 1, 1}, {1, 1}).p_value, 1);
  EXPECT_DOUBLE_EQ(mann_whitney_u({}, {1, 2}).p_value, 1);
}

TEST(BenchStats, SmallestReachablePValue) {
  EXPECT_NEAR(min_p_value(3, 3), 0.1, 1e-12);
  EXPECT_NEAR(min_p_value(4, 4), 2.0 / 70, 1e-12);
  EXPECT_NEAR(min_p_value(5, 5), 2.0 / 252, 1e-12);
  EXPECT_DOUBLE_EQ(min_p_value(0, 5), 1);
}

}  // namespace tf::bench
