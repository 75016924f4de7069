// One pool of worker threads shared by every kernel: threads are created once,
// and parallel_for hands them index ranges. The calling thread works too, so a
// pool of n threads has n-1 workers.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>

namespace tf {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) over disjoint chunks covering [0, n),
  // each chunk at least `grain` long (except the last). Returns when all are
  // done. Exceptions in fn are re-thrown on the calling thread.
  void parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t, int)>& fn);

  // Calls fn(thread_index, n_threads) once on each thread.
  void run_on_all(const std::function<void(int, int)>& fn);

 private:
  struct State;
  int n_threads_;
  std::unique_ptr<State> state_;
};

// The process-wide pool; set_default_threads() resizes it (0 = all cores).
ThreadPool& default_pool();
void set_default_threads(int n);
int hardware_threads();

}  // namespace tf
