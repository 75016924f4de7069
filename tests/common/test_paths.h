// Where tests find the built tools, their scratch space and ../shared/models.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <gtest/gtest.h>

namespace tf::test {

// ../shared/models beside the checkout, or $TF_SHARED_MODELS.
inline std::filesystem::path shared_models() {
  if (const char* env = std::getenv("TF_SHARED_MODELS")) return env;
  return std::filesystem::path(TF_SOURCE_DIR) / ".." / "shared" / "models";
}

inline bool have_shared_models() { return std::filesystem::exists(shared_models() / "README.md"); }

// Skips the current test with a clear message when ../shared/models is absent.
#define TF_REQUIRE_SHARED_MODELS()                                                                       \
  do {                                                                                                   \
    if (!::tf::test::have_shared_models())                                                               \
      GTEST_SKIP() << "needs ../shared/models (not found at " << ::tf::test::shared_models().string()   \
                   << "; set TF_SHARED_MODELS)";                                                         \
  } while (0)

inline std::filesystem::path tool(const std::string& name) { return std::filesystem::path(TF_BIN_DIR) / name; }

// A fresh, empty folder for this test, removed when the object dies.
class TempDir {
 public:
  TempDir() {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("tf-test-") + (info ? info->test_suite_name() : "x") + "-" +
                       (info ? info->name() : "y") + "-" + std::to_string(::getpid());
    for (char& c : name)
      if (c == '/') c = '_';
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& file) const { return (path_ / file).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace tf::test
