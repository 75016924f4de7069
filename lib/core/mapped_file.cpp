#include "tf/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "tf/error.h"

namespace tf {

namespace {
// The live files, for release(): which one a pointer belongs to.
std::mutex registry_mutex;
std::vector<const MappedFile*>& registry() {
  static std::vector<const MappedFile*> files;
  return files;
}
}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path, LoadMode mode) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail(path, ": cannot stat: ", std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(path, ": not a regular file");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = size_t(st.st_size);
  file->mode_ = mode;
  if (file->size_ == 0) {
    ::close(fd);
    return file;
  }
  if (mode == LoadMode::Mmap) {
    void* p = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    ::close(fd);
    if (p == MAP_FAILED) fail(path, ": cannot map: ", std::strerror(e));
    file->data_ = static_cast<const uint8_t*>(p);
    file->mapped_ = true;
    file->register_self();
    return file;
  }
  // --no-mmap: anonymous memory (huge-page aligned, see allocate_weight_memory)
  void* p = nullptr;
  try {
    p = allocate_weight_memory(file->size_);
  } catch (const Error&) {
    ::close(fd);
    fail(path, ": cannot allocate ", file->size_, " bytes");
  }
  file->data_ = static_cast<const uint8_t*>(p);
  file->mapped_ = true;
  size_t done = 0;
  while (done < file->size_) {
    ssize_t r = ::pread(fd, static_cast<uint8_t*>(p) + done, file->size_ - done, off_t(done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = errno;
      ::close(fd);
      fail(path, ": read failed at offset ", done, ": ", r == 0 ? "unexpected end of file" : std::strerror(e));
    }
    done += size_t(r);
  }
  mprotect(p, file->size_, PROT_READ);
  file->fd_ = fd;  // kept to remap released pages from the file
  file->register_self();
  return file;
}

void* allocate_weight_memory(size_t bytes) {
  constexpr size_t kHuge = size_t(2) << 20;
  const size_t len = bytes + kHuge;  // room to align the start
  void* raw = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) fail("cannot allocate ", bytes, " bytes for weights");
  const uintptr_t start = uintptr_t(raw), aligned = (start + kHuge - 1) / kHuge * kHuge;
  const long page = sysconf(_SC_PAGESIZE);
  const uintptr_t end = (aligned + bytes + uintptr_t(page) - 1) / uintptr_t(page) * uintptr_t(page);
  if (aligned > start) munmap(raw, aligned - start);
  if (start + len > end) munmap(reinterpret_cast<void*>(end), start + len - end);
  return reinterpret_cast<void*>(aligned);
}

void free_weight_memory(void* p, size_t bytes) {
  if (p) munmap(p, bytes);
}

void MappedFile::register_self() const {
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry().push_back(this);
}

void MappedFile::release(const void* p, size_t n) {
  const long page = sysconf(_SC_PAGESIZE);
  const uintptr_t lo = (uintptr_t(p) + uintptr_t(page) - 1) / uintptr_t(page) * uintptr_t(page);
  const uintptr_t hi = (uintptr_t(p) + n) / uintptr_t(page) * uintptr_t(page);
  if (hi <= lo) return;
  std::lock_guard<std::mutex> lock(registry_mutex);
  for (const MappedFile* f : registry()) {
    const uintptr_t base = uintptr_t(f->data_);
    if (lo < base || hi > base + f->size_) continue;
    void* at = reinterpret_cast<void*>(lo);
    if (f->mode_ == LoadMode::Mmap) {
      madvise(at, hi - lo, MADV_DONTNEED);  // a private read-only file mapping: refetched on access
    } else if (f->fd_ >= 0) {
      // The file is mapped from offset 0 at base, so addresses and offsets are page-aligned alike.
      void* q = mmap(at, hi - lo, PROT_READ, MAP_PRIVATE | MAP_FIXED, f->fd_, off_t(lo - base));
      if (q == MAP_FAILED) return;  // the pages just stay; nothing is lost
    }
    return;
  }
}

MappedFile::~MappedFile() {
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto& files = registry();
    files.erase(std::remove(files.begin(), files.end(), this), files.end());
  }
  if (mapped_) munmap(const_cast<uint8_t*>(data_), size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace tf
