#include "tf/bench_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

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

std::string svg_open(double width, double height, const std::string& title) {
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", width) + "\" height=\"" +
                  fmt("%.0f", height) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + fmt("%.0f", width / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" + escape(title) +
       "</text>\n";
  return s;
}

constexpr const char* kSweepAxes[] = {"n_threads", "n_batch", "n_prompt", "n_gen"};
constexpr const char* kPalette[] = {"#4878a8", "#e0803c", "#5a9e4b", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c"};

// "pp" / "tg" / "pp+tg": the kind of test, without its sizes.
std::string test_kind(const nlohmann::json& r) {
  int p = r.value("n_prompt", 0), g = r.value("n_gen", 0);
  return p && g ? "pp+tg" : p ? "pp" : "tg";
}

struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;  // (x, tokens/s)
};

// The records as lines over `axis`: one series per model, test kind and
// value of every other axis. Empty unless every series has two points or more.
std::vector<Series> series_over(const std::vector<nlohmann::json>& records, const std::string& axis) {
  std::map<std::string, Series> by_key;
  for (const auto& r : records) {
    if (r.value("type", "") != "bench" || r.value("test", "") == "tokenize") return {};
    std::string model = std::filesystem::path(r.value("model_filename", "")).filename().string();
    std::string label = test_kind(r);
    for (const char* other : kSweepAxes) {
      if (other == axis) continue;
      int v = r.value(other, 0);
      if ((std::string(other) == "n_prompt" || std::string(other) == "n_gen") && v == 0) continue;
      label += std::string(" ") + (std::string(other) == "n_threads" ? "t" : std::string(other) == "n_batch" ? "b"
                                   : std::string(other) == "n_prompt" ? "p" : "n") + std::to_string(v);
    }
    label += "  " + model;
    Series& s = by_key[label];
    s.label = label;
    s.points.emplace_back(double(r.value(axis, 0)), r.value("avg_ts", 0.0));
  }
  std::vector<Series> out;
  for (auto& [key, s] : by_key) {
    std::sort(s.points.begin(), s.points.end());
    for (size_t i = 1; i < s.points.size(); ++i)
      if (s.points[i].first == s.points[i - 1].first) return {};  // not a sweep over this axis
    if (s.points.size() < 2 || s.points.front().first == 0) return {};
    out.push_back(std::move(s));
  }
  return out;
}

std::string line_chart(const std::vector<Series>& series, const std::string& axis, const std::string& title) {
  double xmax = 0, ymax = 0, xmin = 1e300;
  for (const auto& s : series)
    for (auto [x, y] : s.points) {
      xmax = std::max(xmax, x);
      xmin = std::min(xmin, x);
      ymax = std::max(ymax, y);
    }
  if (ymax <= 0) ymax = 1;
  if (xmax <= xmin) xmax = xmin + 1;
  double ystep = tick_step(ymax), ytop = std::ceil(ymax / ystep) * ystep;
  const double left = 70, top = 50, plot_w = 560, plot_h = 320;
  size_t longest = 0;
  for (const auto& s : series) longest = std::max(longest, s.label.size());
  double width = left + plot_w + 40 + 7.0 * double(longest) + 30, height = top + plot_h + 60;
  auto px = [&](double x) { return left + (x - xmin) / (xmax - xmin) * plot_w; };
  auto py = [&](double y) { return top + plot_h - y / ytop * plot_h; };

  std::string s = svg_open(width, height, title);
  for (double v = 0; v <= ytop * 1.0001; v += ystep) {
    s += "<line x1=\"" + fmt("%.0f", left) + "\" y1=\"" + fmt("%.1f", py(v)) + "\" x2=\"" + fmt("%.0f", left + plot_w) +
         "\" y2=\"" + fmt("%.1f", py(v)) + "\" stroke=\"#ddd\"/>\n";
    s += "<text x=\"" + fmt("%.0f", left - 8) + "\" y=\"" + fmt("%.1f", py(v) + 4) + "\" text-anchor=\"end\">" +
         fmt(ystep < 1 ? "%.2f" : "%.0f", v) + "</text>\n";
  }
  std::vector<double> xs;
  for (const auto& se : series)
    for (auto [x, y] : se.points) xs.push_back(x);
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  for (double x : xs)
    s += "<text x=\"" + fmt("%.1f", px(x)) + "\" y=\"" + fmt("%.0f", top + plot_h + 18) + "\" text-anchor=\"middle\">" +
         fmt("%.0f", x) + "</text>\n";
  s += "<text x=\"" + fmt("%.0f", left + plot_w / 2) + "\" y=\"" + fmt("%.0f", top + plot_h + 42) +
       "\" text-anchor=\"middle\">" + escape(axis) + "</text>\n";
  s += "<text transform=\"rotate(-90)\" x=\"" + fmt("%.0f", -(top + plot_h / 2)) +
       "\" y=\"18\" text-anchor=\"middle\">tokens/s (mean)</text>\n";
  for (size_t i = 0; i < series.size(); ++i) {
    const char* color = kPalette[i % std::size(kPalette)];
    std::string pts;
    for (auto [x, y] : series[i].points) pts += fmt("%.1f", px(x)) + "," + fmt("%.1f", py(y)) + " ";
    s += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"/>\n";
    for (auto [x, y] : series[i].points)
      s += "<circle cx=\"" + fmt("%.1f", px(x)) + "\" cy=\"" + fmt("%.1f", py(y)) + "\" r=\"3.5\" fill=\"" + color +
           "\"/>\n";
    double ly = top + 10 + double(i) * 20;
    s += "<line x1=\"" + fmt("%.0f", left + plot_w + 20) + "\" y1=\"" + fmt("%.0f", ly) + "\" x2=\"" +
         fmt("%.0f", left + plot_w + 40) + "\" y2=\"" + fmt("%.0f", ly) + "\" stroke=\"" + color +
         "\" stroke-width=\"2\"/>\n";
    s += "<text x=\"" + fmt("%.0f", left + plot_w + 46) + "\" y=\"" + fmt("%.0f", ly + 4) + "\">" +
         escape(series[i].label) + "</text>\n";
  }
  s += "</svg>\n";
  return s;
}

}  // namespace

std::string chart_svg(const std::vector<nlohmann::json>& records, const std::string& title) {
  for (const char* axis : kSweepAxes) {
    std::vector<Series> series = series_over(records, axis);
    if (!series.empty()) return line_chart(series, axis, title);
  }
  return bar_chart_svg(records, title);
}

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

  std::string s = svg_open(width, height, title);
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
