// The bounded spin a driving waiter may do before it sleeps (POSIX's `spin_us`): for
// latency-critical callers, a completion that lands within the spin is taken without the
// sleep and wake-up. Off by default, so an idle or patient waiter never burns a core.
#pragma once

#include <chrono>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ferry::posix {

// The steady clock in nanoseconds, for the engines' "when did a waiter last collect"
// stamps (which park their reaper threads).
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Tells the CPU (and a hypervisor watching for spin loops) that this thread is waiting.
inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Calls `ready` until it returns true (then true), `spin` has passed, or `deadline` has
// (then false). `ready` must be cheap: it reads a ring, never makes a system call.
template <typename Ready>
bool SpinUntil(std::chrono::nanoseconds spin, std::chrono::steady_clock::time_point deadline,
               Ready&& ready) {
  if (spin <= std::chrono::nanoseconds::zero()) return false;
  const auto end = std::min(deadline, std::chrono::steady_clock::now() + spin);
  for (int i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() >= end) return false;
    CpuRelax();
  }
}

}  // namespace ferry::posix
