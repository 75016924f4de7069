#include "tf/bench_report.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "tf/error.h"

namespace tf::bench {
namespace {

using json = nlohmann::json;

std::string number(const json& v) {
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  return v.dump();
}

class JsonlWriter : public ReportWriter {
 public:
  explicit JsonlWriter(Sink s) : sink_(std::move(s)) {}
  void record(const json& r) override { sink_(r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"); }

 private:
  Sink sink_;
};

// llama-bench's json: an array, written element by element.
class JsonWriter : public ReportWriter {
 public:
  explicit JsonWriter(Sink s) : sink_(std::move(s)) {}
  void record(const json& r) override {
    sink_(std::string(first_ ? "[\n  " : ",\n  ") + r.dump(-1, ' ', false, json::error_handler_t::replace));
    first_ = false;
  }
  void finish() override { sink_(first_ ? "[]\n" : "\n]\n"); }

 private:
  Sink sink_;
  bool first_ = true;
};

std::string csv_quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

class CsvWriter : public ReportWriter {
 public:
  explicit CsvWriter(Sink s) : sink_(std::move(s)) {
    std::string header;
    for (const auto& c : columns()) header += (header.empty() ? "" : ",") + std::string(c.name);
    sink_(header + "\n");
  }
  void record(const json& r) override {
    std::string line;
    bool first = true;
    for (const auto& c : columns()) {
      if (!first) line += ",";
      first = false;
      auto it = r.find(c.name);
      if (it == r.end() || it->is_null()) continue;
      line += it->is_string() ? csv_quote(it->get<std::string>()) : number(*it);
    }
    sink_(line + "\n");
  }

 private:
  Sink sink_;
};

std::string sql_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

class SqlWriter : public ReportWriter {
 public:
  explicit SqlWriter(Sink s) : sink_(std::move(s)) {
    std::string create = "CREATE TABLE IF NOT EXISTS test (\n";
    for (size_t i = 0; i < columns().size(); ++i)
      create += std::string("  ") + columns()[i].name + " " + columns()[i].sql_type +
                (i + 1 < columns().size() ? ",\n" : "\n");
    sink_(create + ");\n");
  }
  void record(const json& r) override {
    std::string names, values;
    for (const auto& c : columns()) {
      names += (names.empty() ? "" : ", ") + std::string(c.name);
      auto it = r.find(c.name);
      std::string v = it == r.end() || it->is_null() ? "NULL" : it->is_string() ? sql_quote(it->get<std::string>()) : number(*it);
      values += (values.empty() ? "" : ", ") + v;
    }
    sink_("INSERT INTO test (" + names + ") VALUES (" + values + ");\n");
  }

 private:
  Sink sink_;
};

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// llama-bench's table, plus latency and memory columns.
class MdWriter : public ReportWriter {
 public:
  explicit MdWriter(Sink s) : sink_(std::move(s)) {}
  void record(const json& r) override {
    bool tokenize = r.value("test", "") == "tokenize";
    if (!header_) {
      header_ = true;
      if (tokenize)
        sink_("| model | bytes | test | MB/s | tokens/s | peak RSS |\n| --- | ---: | --- | ---: | ---: | ---: |\n");
      else
        sink_("| model | size | params | threads | n_batch | test | t/s | ttft ms | p50 ms | p99 ms | peak RSS |\n"
              "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
    }
    auto num = [&](const char* key, int digits) {
      return r.contains(key) && r[key].is_number() ? fixed(r[key].get<double>(), digits) : std::string();
    };
    std::string model = std::filesystem::path(r.value("model_filename", "")).filename().string();
    std::string peak = r.contains("peak_rss_bytes") ? human_bytes(r["peak_rss_bytes"].get<double>()) : "";
    if (tokenize) {
      sink_("| " + model + " | " + std::to_string(r.value("bytes", 0)) + " | tokenize | " + num("avg_mb_per_s", 2) +
            " ± " + num("stddev_mb_per_s", 2) + " | " + num("tokens_per_s", 0) + " | " + peak + " |\n");
      return;
    }
    sink_("| " + r.value("model_type", model) + " | " + human_bytes(r.value("model_size", 0.0)) + " | " +
          human_count(r.value("model_n_params", 0.0)) + " | " + std::to_string(r.value("n_threads", 0)) + " | " +
          std::to_string(r.value("n_batch", 0)) + " | " + r.value("test", "") + " | " + num("avg_ts", 2) + " ± " +
          num("stddev_ts", 2) + " | " + num("ttft_ms", 2) + " | " + num("p50_ms", 2) + " | " + num("p99_ms", 2) +
          " | " + peak + " |\n");
    if (r.contains("profile")) {
      std::string label = r.value("test", "") + " t" + std::to_string(r.value("n_threads", 0)) + " " + model;
      for (const auto& op : r["profile"])
        profile_rows_ += "| " + label + " | " + op.value("op", "") + " | " + fixed(op.value("calls", 0.0), 0) + " | " +
                         fixed(op.value("ms", 0.0), 3) + " | " + fixed(100 * op.value("share", 0.0), 1) + "% |\n";
    }
  }

  // The per-operation profiles (--profile) as a second table after the results.
  void finish() override {
    if (!profile_rows_.empty())
      sink_("\n| test | op | calls/run | ms/run | share |\n| --- | --- | ---: | ---: | ---: |\n" + profile_rows_);
  }

 private:
  Sink sink_;
  bool header_ = false;
  std::string profile_rows_;
};

}  // namespace

std::optional<Format> format_from_name(std::string_view name) {
  if (name == "jsonl") return Format::Jsonl;
  if (name == "json") return Format::Json;
  if (name == "csv") return Format::Csv;
  if (name == "md") return Format::Md;
  if (name == "sql") return Format::Sql;
  return std::nullopt;
}

const std::vector<Column>& columns() {
  static const std::vector<Column> c = {
      {"build_commit", "TEXT"},   {"build_version", "TEXT"}, {"cpu_info", "TEXT"},        {"simd", "TEXT"},
      {"logical_cpus", "INTEGER"}, {"mem_total_bytes", "INTEGER"}, {"model_filename", "TEXT"},
      {"model_type", "TEXT"},     {"model_size", "INTEGER"}, {"model_n_params", "INTEGER"}, {"bits_per_weight", "REAL"},
      {"n_batch", "INTEGER"},     {"n_threads", "INTEGER"},  {"n_prompt", "INTEGER"},     {"n_gen", "INTEGER"},
      {"test", "TEXT"},           {"test_time", "TEXT"},     {"load_mode", "TEXT"},       {"repetitions", "INTEGER"},
      {"avg_ns", "INTEGER"},      {"stddev_ns", "INTEGER"},  {"median_ns", "INTEGER"},    {"min_ns", "INTEGER"},
      {"max_ns", "INTEGER"},      {"avg_ts", "REAL"},        {"stddev_ts", "REAL"},       {"median_ts", "REAL"},
      {"min_ts", "REAL"},         {"max_ts", "REAL"},        {"ttft_ms", "REAL"},         {"pp_tok_per_s", "REAL"},
      {"tg_tok_per_s", "REAL"},   {"p50_ms", "REAL"},        {"p90_ms", "REAL"},          {"p99_ms", "REAL"},
      {"peak_rss_bytes", "INTEGER"}, {"load_ms", "REAL"},    {"bytes", "INTEGER"},        {"n_tokens", "INTEGER"},
      {"avg_mb_per_s", "REAL"},   {"stddev_mb_per_s", "REAL"}, {"tokens_per_s", "REAL"}};
  return c;
}

std::unique_ptr<ReportWriter> make_writer(Format format, Sink sink) {
  switch (format) {
    case Format::Jsonl: return std::make_unique<JsonlWriter>(std::move(sink));
    case Format::Json: return std::make_unique<JsonWriter>(std::move(sink));
    case Format::Csv: return std::make_unique<CsvWriter>(std::move(sink));
    case Format::Md: return std::make_unique<MdWriter>(std::move(sink));
    case Format::Sql: return std::make_unique<SqlWriter>(std::move(sink));
  }
  fail("unknown output format");
}

Sink stdout_sink() {
  return [](const std::string& text) {
    errno = 0;
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
      if (errno == EPIPE) throw BrokenPipe();
      fail("cannot write to stdout: ", std::strerror(errno));
    }
  };
}

std::string human_bytes(double bytes) {
  if (bytes >= double(1ull << 30)) return fixed(bytes / double(1ull << 30), 2) + " GiB";
  if (bytes >= double(1ull << 20)) return fixed(bytes / double(1ull << 20), 2) + " MiB";
  if (bytes >= 1024) return fixed(bytes / 1024, 2) + " KiB";
  return fixed(bytes, 0) + " B";
}

std::string human_count(double n) {
  if (n >= 1e9) return fixed(n / 1e9, 2) + " B";
  if (n >= 1e6) return fixed(n / 1e6, 2) + " M";
  if (n >= 1e3) return fixed(n / 1e3, 2) + " K";
  return fixed(n, 0);
}

}  // namespace tf::bench
