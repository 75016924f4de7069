// `tf-bench --plot OUT.svg`: a horizontal bar chart of throughput per
// configuration (mean with a ±stddev whisker), written as plain SVG so that
// no plotting package is needed.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tf::bench {

// One bar per `bench` record; tf::Error when there is none.
std::string bar_chart_svg(const std::vector<nlohmann::json>& records, const std::string& title);

}  // namespace tf::bench
