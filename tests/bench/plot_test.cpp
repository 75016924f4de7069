// chart_svg: a line chart for a sweep over one setting, bars otherwise.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tf/bench_plot.h"
#include "tf/error.h"

namespace tf::bench {
namespace {

using nlohmann::json;

json rec(int p, int n, int t, double ts) {
  return {{"type", "bench"}, {"model_filename", "/m/a.gguf"}, {"n_prompt", p}, {"n_gen", n}, {"n_threads", t},
          {"n_batch", 512},  {"test", p ? "pp" + std::to_string(p) : "tg" + std::to_string(n)},
          {"avg_ts", ts},    {"stddev_ts", 1.0}};
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

TEST(BenchPlot, ThreadSweepIsALinePerTestKind) {
  std::string svg = chart_svg({rec(512, 0, 1, 100), rec(512, 0, 2, 190), rec(0, 128, 1, 10), rec(0, 128, 2, 18)}, "t");
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "<circle"), 4u);
  EXPECT_NE(svg.find(">n_threads</text>"), std::string::npos);
  EXPECT_NE(svg.find("pp b512 p512  a.gguf"), std::string::npos) << svg;
  EXPECT_NE(svg.find("tg b512 n128  a.gguf"), std::string::npos) << svg;
}

TEST(BenchPlot, PromptSizeSweep) {
  std::string svg = chart_svg({rec(128, 0, 2, 150), rec(256, 0, 2, 170), rec(512, 0, 2, 160)}, "t");
  EXPECT_EQ(count(svg, "<polyline"), 1u);
  EXPECT_NE(svg.find(">n_prompt</text>"), std::string::npos);
}

TEST(BenchPlot, NoCommonSweepFallsBackToBars) {
  // pp sizes vary but the single tg test has nothing to draw a line through
  std::string svg = chart_svg({rec(128, 0, 2, 150), rec(512, 0, 2, 160), rec(0, 128, 2, 18)}, "t");
  EXPECT_EQ(count(svg, "<polyline"), 0u);
  EXPECT_EQ(count(svg, "<rect x="), 3u);
  EXPECT_THROW(chart_svg({}, "t"), Error);
}

}  // namespace
}  // namespace tf::bench
