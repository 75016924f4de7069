// Output formats of tf-bench records: jsonl (one record a line), json (one
// array), csv, md (llama-bench's table) and sql (CREATE TABLE + INSERTs).
// Writers stream: each record is written as soon as it is measured.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace tf::bench {

enum class Format { Jsonl, Json, Csv, Md, Sql };
std::optional<Format> format_from_name(std::string_view name);

// The scalar fields of a `bench` record in csv/sql column order; sql type
// "TEXT", "INTEGER" or "REAL".
struct Column {
  const char* name;
  const char* sql_type;
};
const std::vector<Column>& columns();

class ReportWriter {
 public:
  virtual ~ReportWriter() = default;
  virtual void record(const nlohmann::json& r) = 0;
  virtual void finish() {}
};

using Sink = std::function<void(const std::string&)>;
std::unique_ptr<ReportWriter> make_writer(Format format, Sink sink);

// A Sink that writes to stdout and flushes; tf::BrokenPipe when the reader is gone.
Sink stdout_sink();

// "2.05 GiB", "1.10 B": the md table's human units (llama-bench's).
std::string human_bytes(double bytes);
std::string human_count(double n);

}  // namespace tf::bench
