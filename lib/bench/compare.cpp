#include "tf/bench_compare.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

#include "tf/bench_stats.h"
#include "tf/error.h"

namespace tf::bench {
namespace {

using json = nlohmann::json;

Series from_bench_record(const json& r, const SeriesOptions& o) {
  Series s;
  std::string test = r.value("test", "");
  bool tokenize = test == "tokenize";
  std::string model = std::filesystem::path(r.value("model_filename", "")).filename().string();
  s.key = test + " t" + std::to_string(r.value("n_threads", 0));
  if (!tokenize) s.key += " b" + std::to_string(r.value("n_batch", 0));
  if (!o.ignore_model) s.key += " " + model;
  s.unit = tokenize ? "MB/s" : "t/s";
  const char* samples = tokenize ? "samples_mb_per_s" : "samples_ts";
  const char* mean = tokenize ? "avg_mb_per_s" : "avg_ts";
  if (r.contains(samples) && r[samples].is_array())
    for (const auto& v : r[samples])
      if (v.is_number()) s.samples.push_back(v.get<double>());
  s.mean = r.contains(mean) && r[mean].is_number() ? r[mean].get<double>() : summarize(s.samples).mean;
  return s;
}

double time_unit_ns(const std::string& unit) {
  if (unit == "ns") return 1;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  return 1;
}

std::vector<Series> from_google_benchmark(const json& doc) {
  std::map<std::string, Series> by_name;
  std::vector<std::string> order;
  for (const auto& b : doc["benchmarks"]) {
    if (!b.is_object() || b.value("run_type", "iteration") != "iteration") continue;
    if (b.contains("error_occurred") && b["error_occurred"].is_boolean() && b["error_occurred"].get<bool>()) continue;
    std::string name = b.value("run_name", b.value("name", ""));
    double rate = 0;
    std::string unit;
    if (b.contains("items_per_second") && b["items_per_second"].is_number()) {
      rate = b["items_per_second"].get<double>();
      unit = "items/s";
    } else if (b.contains("bytes_per_second") && b["bytes_per_second"].is_number()) {
      rate = b["bytes_per_second"].get<double>();
      unit = "B/s";
    } else if (b.contains("real_time") && b["real_time"].is_number() && b["real_time"].get<double>() > 0) {
      rate = 1e9 / (b["real_time"].get<double>() * time_unit_ns(b.value("time_unit", "ns")));
      unit = "1/s";
    } else {
      continue;
    }
    auto [it, fresh] = by_name.try_emplace(name);
    if (fresh) order.push_back(name);
    it->second.key = name;
    it->second.unit = unit;
    it->second.samples.push_back(rate);
  }
  std::vector<Series> out;
  for (const auto& name : order) {
    Series s = by_name[name];
    s.mean = summarize(s.samples).mean;
    out.push_back(s);
  }
  return out;
}

}  // namespace

std::vector<Series> read_series(const std::string& text, const std::string& source, const SeriesOptions& options) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string::npos) fail(source, ": empty");
  std::vector<json> records;
  json whole = json::parse(text, nullptr, false);
  if (!whole.is_discarded() && whole.is_object() && whole.contains("benchmarks") && whole["benchmarks"].is_array()) {
    auto s = from_google_benchmark(whole);
    if (s.empty()) fail(source, ": no benchmark runs with a time or rate");
    return s;
  }
  if (!whole.is_discarded() && whole.is_array()) {
    records = whole.get<std::vector<json>>();
  } else {
    std::istringstream lines(text);
    std::string line;
    size_t line_no = 0;
    while (std::getline(lines, line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object())
        fail(source, ":", line_no, ": not a JSON object (expected tf-bench records or Google Benchmark JSON)");
      records.push_back(std::move(j));
    }
  }
  std::vector<Series> out;
  for (const auto& r : records)
    if (r.is_object() && r.value("type", "") == "bench") out.push_back(from_bench_record(r, options));
  if (out.empty()) fail(source, ": no bench records");
  return out;
}

std::vector<Comparison> compare(const std::vector<Series>& base, const std::vector<Series>& now,
                                const CompareOptions& options) {
  std::map<std::string, const Series*> new_by_key;
  for (const auto& s : now) new_by_key[s.key] = &s;
  std::map<std::string, bool> matched;
  std::vector<Comparison> out;
  for (const auto& b : base) {
    Comparison c;
    c.key = b.key;
    c.unit = b.unit;
    c.base = b.mean;
    c.n_base = b.samples.size();
    auto it = new_by_key.find(b.key);
    if (it == new_by_key.end()) {
      c.verdict = "only_in_base";
      out.push_back(c);
      continue;
    }
    matched[b.key] = true;
    const Series& n = *it->second;
    c.now = n.mean;
    c.n_new = n.samples.size();
    c.ratio = b.mean > 0 ? n.mean / b.mean : 0;
    MannWhitney mw = mann_whitney_u(b.samples, n.samples);
    c.p_value = mw.p_value;
    c.exact = mw.exact;
    c.testable = c.n_base >= 2 && c.n_new >= 2 && min_p_value(c.n_base, c.n_new) < options.alpha;
    bool significant = !c.testable || c.p_value < options.alpha;
    bool slower = c.ratio < 1 - options.max_regression, faster = c.ratio > 1 + options.max_regression;
    if (slower || faster) c.verdict = significant ? (slower ? "regression" : "improvement") : "noise";
    else c.verdict = "unchanged";
    out.push_back(c);
  }
  for (const auto& n : now)
    if (!matched.count(n.key)) {
      Comparison c;
      c.key = n.key;
      c.unit = n.unit;
      c.now = n.mean;
      c.n_new = n.samples.size();
      c.verdict = "only_in_new";
      out.push_back(c);
    }
  return out;
}

bool any_regression(const std::vector<Comparison>& c) {
  for (const auto& x : c)
    if (x.verdict == "regression") return true;
  return false;
}

json comparison_record(const Comparison& c) {
  json r = {{"type", "compare"}, {"key", c.key}, {"unit", c.unit}, {"verdict", c.verdict}};
  if (c.n_base || c.verdict != "only_in_new") r["base"] = c.base;
  if (c.verdict != "only_in_base") r["new"] = c.now;
  if (c.verdict != "only_in_base" && c.verdict != "only_in_new") {
    r["ratio"] = c.ratio;
    r["change_pct"] = (c.ratio - 1) * 100;
    r["p_value"] = c.p_value;
    r["exact"] = c.exact;
    r["testable"] = c.testable;
  }
  r["n_base"] = c.n_base;
  r["n_new"] = c.n_new;
  return r;
}

std::string comparison_table(const std::vector<Comparison>& cs) {
  std::string t = "| configuration | base | new | change | p | verdict |\n| --- | ---: | ---: | ---: | ---: | --- |\n";
  auto value = [](double v, const std::string& unit) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f %s", v, unit.c_str());
    return std::string(buf);
  };
  for (const auto& c : cs) {
    std::string base = c.verdict == "only_in_new" ? "" : value(c.base, c.unit);
    std::string now = c.verdict == "only_in_base" ? "" : value(c.now, c.unit);
    std::string change, p;
    if (!base.empty() && !now.empty()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%+.1f%%", (c.ratio - 1) * 100);
      change = buf;
      std::snprintf(buf, sizeof buf, "%.4f", c.p_value);
      p = c.testable ? buf : "n/a";
    }
    t += "| " + c.key + " | " + base + " | " + now + " | " + change + " | " + p + " | " + c.verdict + " |\n";
  }
  return t;
}

double parse_percent(const std::string& text) {
  std::string s = text;
  if (!s.empty() && s.back() == '%') s.pop_back();
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0 || v >= 100)
    fail("'", text, "' is not a percentage in [0, 100) (e.g. 5%)");
  return v / 100;
}

}  // namespace tf::bench
