#include "tf/bench_budget.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "tf/error.h"

namespace tf::bench {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

const std::vector<std::string>& budget_keys() {
  static const std::vector<std::string> keys = {
      "avg_ts",  "median_ts", "min_ts",  "pp_tok_per_s", "tg_tok_per_s", "avg_mb_per_s", "tokens_per_s",
      "ttft_ms", "p50_ms",    "p90_ms",  "p99_ms",       "load_ms",      "avg_ns",       "median_ns",
      "max_ns",  "peak_rss_bytes", "model_size"};
  return keys;
}

std::vector<Budget> parse_budgets(const std::string& spec) {
  std::vector<Budget> budgets;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) fail("--budget: '", item, "' is not key=value (e.g. ttft_ms=100,tg_tok_per_s=20)");
    Budget b;
    b.key = item.substr(0, eq);
    std::string value = item.substr(eq + 1);
    const auto& keys = budget_keys();
    if (std::find(keys.begin(), keys.end(), b.key) == keys.end()) {
      std::string all;
      for (const auto& k : keys) all += (all.empty() ? "" : ", ") + k;
      fail("--budget: unknown key '", b.key, "' (one of ", all, ")");
    }
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), b.limit);
    if (value.empty() || ec != std::errc() || end != value.data() + value.size())
      fail("--budget: '", value, "' is not a number (", b.key, ")");
    b.is_floor = ends_with(b.key, "_per_s") || ends_with(b.key, "_ts");
    budgets.push_back(b);
  }
  if (budgets.empty()) fail("--budget: no key=value given");
  return budgets;
}

std::vector<std::string> check_budgets(const std::vector<Budget>& budgets, const nlohmann::json& record) {
  std::vector<std::string> misses;
  for (const auto& b : budgets) {
    auto it = record.find(b.key);
    if (it == record.end() || !it->is_number()) continue;
    double v = it->get<double>();
    if (b.is_floor ? v >= b.limit : v <= b.limit) continue;
    char line[512];
    std::string model = std::filesystem::path(record.value("model_filename", "")).filename().string();
    std::snprintf(line, sizeof line, "budget missed: %s t%d b%d %s: %s %.6g %s budget %.6g",
                  record.value("test", "?").c_str(), record.value("n_threads", 0), record.value("n_batch", 0),
                  model.c_str(), b.key.c_str(), v, b.is_floor ? "<" : ">", b.limit);
    misses.push_back(line);
  }
  return misses;
}

}  // namespace tf::bench
