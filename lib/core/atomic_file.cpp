#include "tf/atomic_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

#include "tf/error.h"

namespace tf {
namespace {

constexpr size_t kBufferSize = 1 << 20;

std::string hex(const unsigned char* d, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[d[i] >> 4];
    s[2 * i + 1] = digits[d[i] & 15];
  }
  return s;
}

class Sha256 {
 public:
  Sha256() { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx_, p, n); }
  std::string finish() {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    EVP_DigestFinal_ex(ctx_, d, &len);
    return hex(d, len);
  }

 private:
  EVP_MD_CTX* ctx_ = EVP_MD_CTX_new();
};

// Temporary paths of open AtomicFiles, readable from a signal handler: fixed
// slots, no allocation, claimed and released with atomics.
constexpr int kSlots = 32;
constexpr size_t kPathMax = 4096;
char g_temp_paths[kSlots][kPathMax];
std::atomic<bool> g_slot_used[kSlots];

int claim_slot(const std::string& path) {
  if (path.size() >= kPathMax) return -1;
  for (int i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (g_slot_used[i].compare_exchange_strong(expected, true)) {
      std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
      return i;
    }
  }
  return -1;
}

void release_slot(int slot) {
  if (slot >= 0) g_slot_used[slot].store(false);
}

extern "C" void remove_temp_files_and_die(int sig) {
  for (int i = 0; i < kSlots; ++i)
    if (g_slot_used[i].load()) ::unlink(g_temp_paths[i]);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void remove_temp_files_on_signals() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, remove_temp_files_and_die);
}

struct AtomicFile::Hasher : Sha256 {};

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), hasher_(std::make_unique<Hasher>()) {
  if (path_.empty() || path_ == "-") fail("output path must be a file name (got '", path_, "')");
  size_t slash = path_.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash == 0 ? 1 : slash);
  std::string base = slash == std::string::npos ? path_ : path_.substr(slash + 1);
  std::string templ = dir + "/." + base + ".tmp.XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  fd_ = mkstemp(buf.data());
  if (fd_ < 0) fail(path_, ": cannot create a temporary file in ", dir, ": ", std::strerror(errno));
  temp_path_ = buf.data();
  slot_ = claim_slot(temp_path_);
  fchmod(fd_, 0644);
  buffer_.reset(new uint8_t[kBufferSize]);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
  release_slot(slot_);
}

void AtomicFile::flush_buffer() {
  size_t done = 0;
  while (done < buffered_) {
    ssize_t w = ::write(fd_, buffer_.get() + done, buffered_ - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail(path_, ": write failed: ", std::strerror(errno));
    done += size_t(w);
  }
  buffered_ = 0;
}

void AtomicFile::write(const void* data, size_t n) {
  if (committed_) fail(path_, ": write after commit");
  hasher_->update(data, n);
  bytes_ += n;
  const uint8_t* p = static_cast<const uint8_t*>(data);
  while (n > 0) {
    size_t room = kBufferSize - buffered_;
    size_t k = n < room ? n : room;
    std::memcpy(buffer_.get() + buffered_, p, k);
    buffered_ += k;
    p += k;
    n -= k;
    if (buffered_ == kBufferSize) flush_buffer();
  }
}

void AtomicFile::write_zeros(size_t n) {
  static const uint8_t zeros[256] = {};
  while (n > 0) {
    size_t k = n < sizeof zeros ? n : sizeof zeros;
    write(zeros, k);
    n -= k;
  }
}

std::string AtomicFile::commit() {
  flush_buffer();
  if (::fsync(fd_) != 0) fail(path_, ": fsync failed: ", std::strerror(errno));
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail(path_, ": close failed: ", std::strerror(errno));
  }
  fd_ = -1;
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0)
    fail(path_, ": cannot rename temporary file into place: ", std::strerror(errno));
  committed_ = true;
  release_slot(slot_);
  slot_ = -1;
  return hasher_->finish();
}

std::string sha256_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
  Sha256 hash;
  std::vector<uint8_t> buf(kBufferSize);
  for (;;) {
    ssize_t r = ::read(fd, buf.data(), buf.size());
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      ::close(fd);
      fail(path, ": read failed: ", std::strerror(e));
    }
    if (r == 0) break;
    hash.update(buf.data(), size_t(r));
  }
  ::close(fd);
  return hash.finish();
}

}  // namespace tf
