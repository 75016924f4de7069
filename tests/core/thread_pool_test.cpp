#include "tf/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

namespace tf {

TEST(ThreadPool, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (size_t n : {size_t(0), size_t(1), size_t(7), size_t(1000), size_t(100003)}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(n, 16, [&](size_t b, size_t e, int t) {
        ASSERT_GE(t, 0);
        ASSERT_LT(t, threads);
        for (size_t i = b; i < e; ++i) hits[i]++;
      });
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(ThreadPool, ManySmallJobs) {
  ThreadPool pool(4);
  std::atomic<long> sum{0};
  for (int rep = 0; rep < 500; ++rep)
    pool.run_on_all([&](int t, int n) {
      EXPECT_EQ(n, 4);
      sum += t;
    });
  EXPECT_EQ(sum.load(), 500L * (0 + 1 + 2 + 3));
}

TEST(ThreadPool, RethrowsWorkerExceptions) {
  ThreadPool pool(3);
  EXPECT_THROW(pool.parallel_for(100, 1, [](size_t b, size_t, int) {
    if (b > 50) throw std::runtime_error("boom");
  }), std::runtime_error);
  // still usable afterwards
  std::atomic<int> count{0};
  pool.parallel_for(10, 1, [&](size_t b, size_t e, int) { count += int(e - b); });
  EXPECT_EQ(count.load(), 10);
}

TEST(ThreadPool, ManySmallParallelFors) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  for (int rep = 0; rep < 20000; ++rep)
    pool.parallel_for(8, 1, [&](size_t b, size_t e, int) { sum += long(e - b); });
  EXPECT_EQ(sum.load(), 20000L * 8);
}

TEST(ThreadPool, NestedParallelForRunsInline) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(64 * 64);
  pool.parallel_for(64, 1, [&](size_t b, size_t e, int t) {
    for (size_t i = b; i < e; ++i)
      pool.parallel_for(64, 1, [&](size_t b2, size_t e2, int t2) {
        EXPECT_EQ(t2, t);
        for (size_t j = b2; j < e2; ++j) hits[i * 64 + j]++;
      });
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
}

TEST(ThreadPool, ConcurrentCallersAreSerialised) {
  ThreadPool pool(2);
  std::atomic<long> sum{0};
  auto caller = [&] {
    for (int rep = 0; rep < 2000; ++rep) pool.parallel_for(100, 1, [&](size_t b, size_t e, int) { sum += long(e - b); });
  };
  std::thread other(caller);
  caller();
  other.join();
  EXPECT_EQ(sum.load(), 2L * 2000 * 100);
}

TEST(ThreadPool, DefaultPoolResizes) {
  set_default_threads(3);
  EXPECT_EQ(default_pool().size(), 3);
  set_default_threads(1);
  EXPECT_EQ(default_pool().size(), 1);
}

}  // namespace tf
