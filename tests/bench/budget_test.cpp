#include <gtest/gtest.h>

#include "tf/bench_budget.h"
#include "tf/error.h"

namespace tf::bench {

TEST(BenchBudget, ParsesFloorsAndCeilings) {
  auto b = parse_budgets("ttft_ms=100,tg_tok_per_s=20,peak_rss_bytes=1e9");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_FALSE(b[0].is_floor);
  EXPECT_DOUBLE_EQ(b[0].limit, 100);
  EXPECT_TRUE(b[1].is_floor);
  EXPECT_DOUBLE_EQ(b[2].limit, 1e9);
  EXPECT_THROW(parse_budgets("ttft=100"), Error);
  EXPECT_THROW(parse_budgets("ttft_ms"), Error);
  EXPECT_THROW(parse_budgets("ttft_ms=fast"), Error);
  EXPECT_THROW(parse_budgets(""), Error);
}

TEST(BenchBudget, ReportsEachMiss) {
  nlohmann::json r = {{"type", "bench"},  {"test", "tg4"},      {"n_threads", 2},  {"n_batch", 512},
                      {"model_filename", "/tmp/m.gguf"}, {"ttft_ms", 150.0}, {"tg_tok_per_s", 25.0}};
  auto misses = check_budgets(parse_budgets("ttft_ms=100,tg_tok_per_s=30,pp_tok_per_s=1000"), r);
  ASSERT_EQ(misses.size(), 2u);  // pp_tok_per_s is not in a tg record: not checked
  EXPECT_EQ(misses[0], "budget missed: tg4 t2 b512 m.gguf: ttft_ms 150 > budget 100");
  EXPECT_EQ(misses[1], "budget missed: tg4 t2 b512 m.gguf: tg_tok_per_s 25 < budget 30");
  EXPECT_TRUE(check_budgets(parse_budgets("ttft_ms=200,tg_tok_per_s=20"), r).empty());
}

}  // namespace tf::bench
