#include "tf/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "tf/error.h"

namespace tf {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

// Spins briefly, then yields the core: a thread we wait for may have been
// preempted (other processes share the cores), and burning our time slice
// would only delay it further.
template <class Done>
void wait_until(Done done) {
  for (int spin = 0; !done(); ++spin) {
    if (spin < 4000)
      cpu_relax();
    else
      std::this_thread::yield();
  }
}

// The pool (and thread index) whose job the current thread is running, so
// that a nested parallel_for runs inline instead of deadlocking.
thread_local const ThreadPool* tl_pool = nullptr;
thread_local int tl_index = 0;

}  // namespace

// A job is published through one atomic word, `ctl`: the job's generation in
// the high 32 bits, an "open" bit, and the number of workers inside the job
// in the low bits. Workers join with a CAS only while the job is open.
//
// parallel_for closes its job as soon as the caller finds no chunk left and
// then waits only for the workers that joined; a worker that wakes up late
// (descheduled, or still asleep) skips the job instead of being waited for.
// Decode issues thousands of small parallel_for calls per second on cores
// that other processes share, so the caller must never wait for a worker
// that has nothing to do.
//
// Idle workers spin on ctl for a while, then sleep on a condition variable;
// callers only take the mutex to notify when someone sleeps.
struct ThreadPool::State {
  static constexpr uint64_t kOpen = uint64_t(1) << 31;
  static constexpr uint64_t kCountMask = kOpen - 1;
  static uint64_t gen(uint64_t c) { return c >> 32; }

  std::vector<std::thread> workers;
  std::mutex call_mutex;  // one job at a time

  std::atomic<uint64_t> ctl{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::condition_variable wake;

  // the current job (valid while its generation is in ctl and workers are inside)
  bool all = false;  // run_on_all: every worker must run it
  const std::function<void(int, int)>* all_fn = nullptr;
  const std::function<void(size_t, size_t, int)>* for_fn = nullptr;
  size_t n = 0, chunk = 1, guided_div = 2;
  std::atomic<size_t> next{0};
  std::atomic<int> pending{0};  // run_on_all: workers yet to run

  std::exception_ptr error;
  std::mutex error_mutex;

  void record(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (!error) error = e;
  }

  // Guided: a chunk is 1/(2 * threads) of what is left, never below
  // `chunk`, so the threads start on long runs and finish together.
  void run_chunks(int index) {
    for (;;) {
      size_t begin = next.load(std::memory_order_relaxed), size;
      do {
        if (begin >= n) return;
        size = std::max(chunk, (n - begin) / guided_div);
      } while (!next.compare_exchange_weak(begin, begin + size, std::memory_order_relaxed));
      try {
        (*for_fn)(begin, std::min(n, begin + size), index);
      } catch (...) {
        record(std::current_exception());
      }
    }
  }

  // The seq_cst store / load pair against the sleeper's seq_cst increment /
  // re-check guarantees that either we see the sleeper or it sees the job.
  void publish() {
    const uint64_t g = gen(ctl.load(std::memory_order_relaxed)) + 1;
    ctl.store((g << 32) | kOpen, std::memory_order_seq_cst);
    if (sleepers.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mutex);
      wake.notify_all();
    }
  }

  // Closes the job and waits for the workers inside it to leave.
  void close() {
    ctl.fetch_and(~kOpen, std::memory_order_acq_rel);
    wait_until([&] { return (ctl.load(std::memory_order_acquire) & kCountMask) == 0; });
  }

  void worker(ThreadPool* pool, int index, int n_threads) {
    tl_pool = pool;
    tl_index = index;
    uint64_t seen = 0;
    for (;;) {
      uint64_t c = ctl.load(std::memory_order_acquire);
      for (int spin = 0; gen(c) == seen && spin < 20000; ++spin) {
        cpu_relax();
        c = ctl.load(std::memory_order_acquire);
      }
      if (gen(c) == seen) {
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        {
          std::unique_lock<std::mutex> lock(mutex);
          wake.wait(lock, [&] { return stop.load() || gen(ctl.load(std::memory_order_seq_cst)) != seen; });
        }
        sleepers.fetch_sub(1, std::memory_order_relaxed);
        c = ctl.load(std::memory_order_acquire);
      }
      if (stop.load()) return;
      seen = gen(c);
      bool joined = false;
      while ((c & kOpen) && gen(c) == seen)
        if (ctl.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) {
          joined = true;
          break;
        }
      if (!joined) continue;
      if (all) {
        try {
          (*all_fn)(index, n_threads);
        } catch (...) {
          record(std::current_exception());
        }
        pending.fetch_sub(1, std::memory_order_acq_rel);
      } else {
        run_chunks(index);
      }
      ctl.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)), state_(std::make_unique<State>()) {
  for (int i = 1; i < n_threads_; ++i) state_->workers.emplace_back([this, i] { state_->worker(this, i, n_threads_); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
    // a new generation wakes spinning workers too
    state_->ctl.fetch_add(uint64_t(1) << 32);
  }
  state_->wake.notify_all();
  for (auto& t : state_->workers) t.join();
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) return fn(0, 1);
  if (tl_pool == this) fail("ThreadPool::run_on_all called from inside a job of the same pool");
  State& s = *state_;
  std::lock_guard<std::mutex> call(s.call_mutex);
  s.all = true;
  s.all_fn = &fn;
  s.error = nullptr;
  s.pending.store(n_threads_ - 1, std::memory_order_relaxed);
  s.publish();
  tl_pool = this;
  tl_index = 0;
  try {
    fn(0, n_threads_);
  } catch (...) {
    s.record(std::current_exception());
  }
  tl_pool = nullptr;
  wait_until([&] { return s.pending.load(std::memory_order_acquire) == 0; });
  s.close();
  if (s.error) std::rethrow_exception(s.error);
}

void ThreadPool::parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t, int)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  const size_t max_chunks = (n + grain - 1) / grain;
  if (n_threads_ == 1 || max_chunks == 1) return fn(0, n, tl_pool == this ? tl_index : 0);
  if (tl_pool == this) return fn(0, n, tl_index);  // nested: run inline on this thread
  State& s = *state_;
  std::lock_guard<std::mutex> call(s.call_mutex);
  // Dynamic scheduling in chunks of about n / (4 * threads), never below
  // grain: cores of a noisy machine finish at different times.
  s.all = false;
  s.for_fn = &fn;
  s.n = n;
  s.chunk = std::max(grain, n / (size_t(n_threads_) * 16));
  s.guided_div = 2 * size_t(n_threads_);
  s.next.store(0, std::memory_order_relaxed);
  s.error = nullptr;
  s.publish();
  tl_pool = this;
  tl_index = 0;
  s.run_chunks(0);
  tl_pool = nullptr;
  s.close();
  if (s.error) std::rethrow_exception(s.error);
}

int hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : int(n);
}

namespace {
std::mutex g_pool_mutex;
std::unique_ptr<ThreadPool> g_pool;
}  // namespace

ThreadPool& default_pool() {
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  if (!g_pool) g_pool = std::make_unique<ThreadPool>(hardware_threads());
  return *g_pool;
}

void set_default_threads(int n) {
  if (n < 0) fail("thread count must be >= 0 (got ", n, ")");
  std::lock_guard<std::mutex> lock(g_pool_mutex);
  int want = n == 0 ? hardware_threads() : n;
  if (g_pool && g_pool->size() == want) return;
  g_pool.reset();
  g_pool = std::make_unique<ThreadPool>(want);
}

}  // namespace tf
