// A per-test watchdog linked into every integration binary: a test still running after
// FERRY_TEST_WATCHDOG_S seconds (default 90) is reported by name and the process aborts,
// so a hang (e.g. in a destructor, where no Wait timeout applies) fails fast and visibly
// instead of running into ctest's timeout.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace {

using Clock = std::chrono::steady_clock;

// Shared with the watchdog thread and never freed: the thread may outlive static
// destruction, and a condition variable must not be destroyed while it is waited on.
struct WatchState {
  std::chrono::seconds limit{90};
  std::mutex mu;
  std::condition_variable cv;
  std::string name;
  Clock::time_point deadline;
  bool running = false;
};

void Watch(WatchState* s) {
  std::unique_lock lk(s->mu);
  for (;;) {
    if (!s->running) {
      s->cv.wait(lk);
      continue;
    }
    const Clock::time_point deadline = s->deadline;
    if (s->cv.wait_until(lk, deadline) == std::cv_status::timeout && s->running &&
        s->deadline == deadline) {
      std::fprintf(stderr, "\nwatchdog: %s still running after %lld s; aborting\n", s->name.c_str(),
                   static_cast<long long>(s->limit.count()));
      std::fflush(stderr);
      std::abort();
    }
  }
}

// Reachable from a static for the life of the process (so LeakSanitizer does not call it
// a leak), and never destroyed (the detached thread may outlive static destruction).
WatchState* SharedState() {
  static WatchState* state = new WatchState;
  return state;
}

class Watchdog : public ::testing::EmptyTestEventListener {
 public:
  Watchdog() : s_(SharedState()) {
    if (const char* env = std::getenv("FERRY_TEST_WATCHDOG_S")) {
      s_->limit = std::chrono::seconds(std::atoi(env));
    }
  }

  void OnTestStart(const ::testing::TestInfo& info) override {
    Start();
    std::lock_guard lk(s_->mu);
    s_->name = std::string(info.test_suite_name()) + "." + info.name();
    s_->deadline = Clock::now() + s_->limit;
    s_->running = true;
    s_->cv.notify_all();
  }
  void OnTestEnd(const ::testing::TestInfo&) override {
    std::lock_guard lk(s_->mu);
    s_->running = false;
    s_->cv.notify_all();
  }

 private:
  // The thread starts with the first test, so listing tests starts no thread at all.
  void Start() {
    std::call_once(started_, [this] { std::thread(Watch, s_).detach(); });
  }

  WatchState* s_;
  std::once_flag started_;
};

// Installed before main(); gtest owns the listener.
[[maybe_unused]] const bool kInstalled = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new Watchdog);
  return true;
}();

}  // namespace
