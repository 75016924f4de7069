#include "tf/records.h"

#include <gtest/gtest.h>

#include <sstream>

#include "tf/error.h"

namespace tf {

TEST(Records, ModelRecordFields) {
  io::ModelInfo m{"out.gguf", "gguf", "llama", "F16", 123, 456, "abc"};
  auto r = io::model_record(m);
  EXPECT_EQ(r["type"], "model");
  EXPECT_EQ(r["path"], "out.gguf");
  EXPECT_EQ(r["params"], 123);
  EXPECT_TRUE(r["bytes"].is_number());
}

TEST(Records, DashTakesTheLastModelRecord) {
  std::istringstream in(
      "{\"type\":\"progress\",\"done\":1}\n"
      "{\"type\":\"model\",\"path\":\"a.gguf\"}\n\n"
      "{\"type\":\"model\",\"path\":\"b.gguf\"}\n");
  EXPECT_EQ(io::resolve_model_arg("-", in), "b.gguf");
  std::istringstream unused;
  EXPECT_EQ(io::resolve_model_arg("m.gguf", unused), "m.gguf");
}

TEST(Records, BadInputIsAClearError) {
  std::istringstream none("{\"type\":\"token\"}\n");
  EXPECT_THROW(io::resolve_model_arg("-", none), Error);
  std::istringstream garbage("{\"type\":\"model\",\"path\":\"a\"}\nnot json\n");
  try {
    io::resolve_model_arg("-", garbage);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stdin:2"), std::string::npos);
  }
  std::istringstream untyped("[1,2]\n");
  EXPECT_THROW(io::read_records(untyped), Error);
}

}  // namespace tf
