#include "tf/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tf/error.h"

namespace tf {

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
    return file;
  }
  // --no-mmap: anonymous memory (page-aligned, so SIMD loads behave the same)
  void* p = mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
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
  ::close(fd);
  mprotect(p, file->size_, PROT_READ);
  return file;
}

MappedFile::~MappedFile() {
  if (mapped_) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace tf
