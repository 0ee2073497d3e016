// Timeouts as deadlines, for waits that sleep more than once.
#pragma once

#include <chrono>

namespace ferry {

// now + timeout, saturating: a huge timeout (nanoseconds::max()) means never.
inline std::chrono::steady_clock::time_point DeadlineAfter(std::chrono::nanoseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point now = Clock::now();
  if (timeout <= std::chrono::nanoseconds::zero()) return now;
  if (timeout >= Clock::time_point::max() - now) return Clock::time_point::max();
  return now + timeout;
}

}  // namespace ferry
