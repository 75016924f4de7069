// Every output format parses back: jsonl and json as JSON, csv with one
// value per column, the md table with equal cell counts, sql statements with
// one value per column.
#include <gtest/gtest.h>

#include <sstream>

#include "tf/bench_report.h"

namespace tf::bench {
namespace {

using json = nlohmann::json;

json sample_record(int n_gen) {
  return {{"type", "bench"},          {"build_commit", "abc123"},    {"cpu_info", "AMD \"Zen\", test"},
          {"model_filename", "m's.gguf"}, {"model_type", "llama 1.1B F16"}, {"model_size", 2200000000ull},
          {"model_n_params", 1100000000ull}, {"n_prompt", 0},           {"n_gen", n_gen},
          {"n_threads", 2},               {"n_batch", 512},              {"test", "tg" + std::to_string(n_gen)},
          {"avg_ts", 12.5},               {"stddev_ts", 0.25},           {"samples_ts", {12.25, 12.75}},
          {"avg_ns", 320000000},          {"p50_ms", 80.0},              {"ttft_ms", 81.5}};
}

std::string render(Format f, int n_records) {
  std::string out;
  auto w = make_writer(f, [&](const std::string& s) { out += s; });
  for (int i = 0; i < n_records; ++i) w->record(sample_record(4 + i));
  w->finish();
  return out;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) v.push_back(line);
  return v;
}

// RFC 4180 fields of one line
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> f(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') f.back() += '"', ++i;
      else if (c == '"') quoted = false;
      else f.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      f.emplace_back();
    } else {
      f.back() += c;
    }
  }
  return f;
}

size_t column_index(const char* name) {
  for (size_t i = 0; i < columns().size(); ++i)
    if (std::string(columns()[i].name) == name) return i;
  return size_t(-1);
}

}  // namespace

TEST(BenchReport, FormatNames) {
  EXPECT_EQ(format_from_name("md"), Format::Md);
  EXPECT_FALSE(format_from_name("xml"));
}

TEST(BenchReport, JsonlAndJsonParse) {
  auto l = lines(render(Format::Jsonl, 2));
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(json::parse(l[0]), sample_record(4));
  json arr = json::parse(render(Format::Json, 2));
  ASSERT_TRUE(arr.is_array());
  ASSERT_EQ(arr.size(), 2u);
  EXPECT_EQ(arr[1]["test"], "tg5");
  EXPECT_EQ(json::parse(render(Format::Json, 0)), json::array());
}

TEST(BenchReport, CsvHasOneValuePerColumn) {
  auto l = lines(render(Format::Csv, 2));
  ASSERT_EQ(l.size(), 3u);
  auto header = csv_fields(l[0]);
  ASSERT_EQ(header.size(), columns().size());
  EXPECT_EQ(header[column_index("avg_ts")], "avg_ts");
  auto row = csv_fields(l[1]);
  ASSERT_EQ(row.size(), columns().size());
  EXPECT_EQ(row[column_index("cpu_info")], "AMD \"Zen\", test");
  EXPECT_EQ(row[column_index("n_gen")], "4");
  EXPECT_EQ(row[column_index("model_size")], "2200000000");
  EXPECT_DOUBLE_EQ(std::stod(row[column_index("avg_ts")]), 12.5);
  EXPECT_EQ(row[column_index("p99_ms")], "");  // absent field: empty cell
}

TEST(BenchReport, MarkdownTable) {
  auto l = lines(render(Format::Md, 2));
  ASSERT_EQ(l.size(), 4u);
  auto cells = [](const std::string& s) { return std::count(s.begin(), s.end(), '|'); };
  for (const auto& line : l) {
    EXPECT_EQ(line.front(), '|');
    EXPECT_EQ(cells(line), cells(l[0])) << line;
  }
  EXPECT_NE(l[0].find("t/s"), std::string::npos);
  EXPECT_NE(l[1].find("---"), std::string::npos);
  EXPECT_NE(l[2].find("| tg4 |"), std::string::npos);
  EXPECT_NE(l[2].find("12.50 ± 0.25"), std::string::npos);
  EXPECT_NE(l[2].find("2.05 GiB"), std::string::npos);
  EXPECT_NE(l[2].find("1.10 B"), std::string::npos);
}

TEST(BenchReport, SqlStatements) {
  auto l = lines(render(Format::Sql, 2));
  ASSERT_EQ(l.front(), "CREATE TABLE IF NOT EXISTS test (");
  size_t close = 0;
  while (close < l.size() && l[close] != ");") ++close;
  ASSERT_LT(close, l.size());
  EXPECT_EQ(close - 1, columns().size());  // one line per column
  EXPECT_EQ(l[1], "  build_commit TEXT,");
  ASSERT_EQ(l.size(), close + 3);
  for (size_t i = close + 1; i < l.size(); ++i) {
    const std::string& s = l[i];
    ASSERT_EQ(s.rfind("INSERT INTO test (", 0), 0u);
    ASSERT_EQ(s.substr(s.size() - 2), ");");
    size_t values = s.find(") VALUES (");
    ASSERT_NE(values, std::string::npos);
    // count top-level commas outside '…' strings ('' is an escaped quote)
    size_t n = 1;
    bool quoted = false;
    for (size_t k = values + 10; k + 2 < s.size(); ++k) {
      if (s[k] == '\'') quoted = !quoted;
      else if (s[k] == ',' && !quoted) ++n;
    }
    EXPECT_EQ(n, columns().size());
    EXPECT_NE(s.find("'m''s.gguf'"), std::string::npos);
    EXPECT_NE(s.find("NULL"), std::string::npos);
  }
}

TEST(BenchReport, HumanUnits) {
  EXPECT_EQ(human_bytes(1536), "1.50 KiB");
  EXPECT_EQ(human_bytes(3.0 * (1 << 30)), "3.00 GiB");
  EXPECT_EQ(human_count(1.1e9), "1.10 B");
  EXPECT_EQ(human_count(42), "42");
}

}  // namespace tf::bench
