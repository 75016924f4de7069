#include "tf/thread_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "tf/error.h"

#include <sched.h>

namespace tf {

// Workers spin briefly on the job generation before sleeping on a condition
// variable: decode issues thousands of small parallel_for calls per second,
// and waking sleeping threads for each would cost more than the work. The
// spin yields the core now and then, so that on an oversubscribed machine
// (tests in parallel, a busy CI box) a spinner does not starve the thread it
// is waiting for.
namespace {

// Spins until done() or about `budget` has passed; true if done() came true.
template <class Done>
bool spin_until(Done done, std::chrono::microseconds budget) {
  auto start = std::chrono::steady_clock::now();
  for (int spin = 1;; ++spin) {
    if (done()) return true;
    if ((spin & 63) == 0) {
      if (std::chrono::steady_clock::now() - start > budget) return false;
      sched_yield();
    } else {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  }
}

constexpr std::chrono::microseconds kWorkerSpin{200}, kCallerSpin{500};

}  // namespace

struct ThreadPool::State {
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable wake, done;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> active{0};
  std::atomic<bool> stop{false};

  // the current job
  const std::function<void(int, int)>* job = nullptr;
  std::exception_ptr error;
  std::mutex error_mutex;

  void run_job(int index, int n) {
    try {
      (*job)(index, n);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)), state_(std::make_unique<State>()) {
  for (int i = 1; i < n_threads_; ++i) {
    state_->workers.emplace_back([this, i] {
      State& s = *state_;
      uint64_t seen = 0;
      for (;;) {
        spin_until([&] { return s.stop.load(std::memory_order_relaxed) || s.generation.load(std::memory_order_acquire) != seen; },
                   kWorkerSpin);
        uint64_t g = s.generation.load(std::memory_order_acquire);
        if (g == seen) {
          std::unique_lock<std::mutex> lock(s.mutex);
          s.wake.wait(lock, [&] { return s.stop || s.generation.load(std::memory_order_acquire) != seen; });
          if (s.stop) return;
          g = s.generation.load(std::memory_order_acquire);
        }
        seen = g;
        s.run_job(i, n_threads_);
        if (s.active.fetch_sub(1, std::memory_order_acq_rel) == 1) {
          std::lock_guard<std::mutex> lock(s.mutex);
          s.done.notify_one();
        }
      }
    });
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->wake.notify_all();
  for (auto& t : state_->workers) t.join();
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& fn) {
  State& s = *state_;
  if (n_threads_ == 1) return fn(0, 1);
  s.job = &fn;
  s.error = nullptr;
  s.active.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  s.wake.notify_all();
  s.run_job(0, n_threads_);
  if (!spin_until([&] { return s.active.load(std::memory_order_acquire) == 0; }, kCallerSpin)) {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.done.wait(lock, [&] { return s.active.load(std::memory_order_acquire) == 0; });
  }
  s.job = nullptr;
  if (s.error) std::rethrow_exception(s.error);
}

void ThreadPool::parallel_for(size_t n, size_t grain, const std::function<void(size_t, size_t, int)>& fn) {
  if (n == 0) return;
  grain = std::max<size_t>(1, grain);
  size_t max_chunks = (n + grain - 1) / grain;
  if (n_threads_ == 1 || max_chunks == 1) return fn(0, n, 0);
  // Dynamic scheduling in chunks of about n / (4 * threads), never below grain:
  // cores of a noisy machine finish at different times.
  size_t chunk = std::max(grain, n / (size_t(n_threads_) * 4));
  std::atomic<size_t> next{0};
  std::function<void(int, int)> job = [&](int thread, int) {
    for (;;) {
      size_t begin = next.fetch_add(chunk, std::memory_order_relaxed);
      if (begin >= n) return;
      fn(begin, std::min(n, begin + chunk), thread);
    }
  };
  run_on_all(job);
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
