// `tf-bench --plot OUT.svg`: a line chart over a sweep, or a horizontal bar
// chart of throughput per configuration (mean with a ±stddev whisker), written as plain SVG so that
// no plotting package is needed.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tf::bench {

// A line chart when the records are a sweep over one of n_threads, n_batch,
// n_prompt, n_gen (every other setting giving two points or more along it:
// one line per model, test kind and the other settings); otherwise bars.
std::string chart_svg(const std::vector<nlohmann::json>& records, const std::string& title);

// One bar per `bench` record; tf::Error when there is none.
std::string bar_chart_svg(const std::vector<nlohmann::json>& records, const std::string& title);

}  // namespace tf::bench
