#include "tf/bench_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "tf/error.h"

namespace tf::bench {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// A "nice" axis step (1, 2 or 5 times a power of ten) giving about 5 ticks.
double tick_step(double max) {
  double raw = max / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

}  // namespace

std::string bar_chart_svg(const std::vector<nlohmann::json>& records, const std::string& title) {
  struct Bar {
    std::string label;
    double mean, sd;
  };
  std::vector<Bar> bars;
  std::string unit;
  for (const auto& r : records) {
    if (r.value("type", "") != "bench") continue;
    bool tok = r.value("test", "") == "tokenize";
    std::string model = std::filesystem::path(r.value("model_filename", "")).filename().string();
    std::string label = r.value("test", "") + "  t" + std::to_string(r.value("n_threads", 0)) +
                        (tok ? "" : " b" + std::to_string(r.value("n_batch", 0))) + "  " + model;
    bars.push_back({label, r.value(tok ? "avg_mb_per_s" : "avg_ts", 0.0), r.value(tok ? "stddev_mb_per_s" : "stddev_ts", 0.0)});
    std::string u = tok ? "MB/s" : "tokens/s";
    unit = unit.empty() || unit == u ? u : "tokens/s or MB/s";
  }
  if (bars.empty()) fail("--plot: no bench records to plot");
  size_t longest = 0;
  double max = 0;
  for (const auto& b : bars) {
    longest = std::max(longest, b.label.size());
    max = std::max(max, b.mean + b.sd);
  }
  if (max <= 0) max = 1;
  double step = tick_step(max), axis_max = std::ceil(max / step) * step;
  const double left = 20 + 7.0 * double(longest), plot_w = 560, bar_h = 22, gap = 10, top = 50;
  double height = top + double(bars.size()) * (bar_h + gap) + 60, width = left + plot_w + 90;
  auto x = [&](double v) { return left + v / axis_max * plot_w; };

  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", width) + "\" height=\"" +
                  fmt("%.0f", height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + fmt("%.0f", width / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" + escape(title) +
       "</text>\n";
  double bottom = top + double(bars.size()) * (bar_h + gap);
  for (double v = 0; v <= axis_max * 1.0001; v += step) {
    s += "<line x1=\"" + fmt("%.1f", x(v)) + "\" y1=\"" + fmt("%.0f", top - 4) + "\" x2=\"" + fmt("%.1f", x(v)) +
         "\" y2=\"" + fmt("%.0f", bottom) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + fmt("%.1f", x(v)) + "\" y=\"" + fmt("%.0f", bottom + 16) + "\" text-anchor=\"middle\">" +
         fmt(step < 1 ? "%.2f" : "%.0f", v) + "</text>\n";
  }
  s += "<text x=\"" + fmt("%.0f", left + plot_w / 2) + "\" y=\"" + fmt("%.0f", bottom + 40) +
       "\" text-anchor=\"middle\">" + escape(unit) + " (mean, whisker ±1 stddev)</text>\n";
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    double y = top + double(i) * (bar_h + gap);
    s += "<text x=\"" + fmt("%.0f", left - 8) + "\" y=\"" + fmt("%.1f", y + bar_h * 0.7) + "\" text-anchor=\"end\">" +
         escape(b.label) + "</text>\n";
    s += "<rect x=\"" + fmt("%.1f", left) + "\" y=\"" + fmt("%.1f", y) + "\" width=\"" +
         fmt("%.1f", x(b.mean) - left) + "\" height=\"" + fmt("%.0f", bar_h) + "\" fill=\"#4878a8\"/>\n";
    if (b.sd > 0)
      s += "<line x1=\"" + fmt("%.1f", x(std::max(0.0, b.mean - b.sd))) + "\" y1=\"" + fmt("%.1f", y + bar_h / 2) +
           "\" x2=\"" + fmt("%.1f", x(b.mean + b.sd)) + "\" y2=\"" + fmt("%.1f", y + bar_h / 2) +
           "\" stroke=\"black\" stroke-width=\"1.5\"/>\n";
    s += "<text x=\"" + fmt("%.1f", x(b.mean + b.sd) + 6) + "\" y=\"" + fmt("%.1f", y + bar_h * 0.7) + "\">" +
         fmt(b.mean < 10 ? "%.2f" : "%.1f", b.mean) + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace tf::bench
