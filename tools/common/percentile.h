// The one percentile rule of Ferry's tools (ferry-bench, ferry-kv, kv-hash-builds), so a
// p99 from one is computed as a p99 from another: the element at rank floor(f * n) of the
// sorted samples (the largest for f = 1), f a fraction in [0, 1].
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace ferry_tools {

// Reorders `v` (nth_element); 0 for no samples.
template <class T>
T Percentile(std::vector<T>* v, double fraction) {
  if (v->empty()) return T{};
  size_t rank = static_cast<size_t>(fraction * static_cast<double>(v->size()));
  if (rank >= v->size()) rank = v->size() - 1;
  std::nth_element(v->begin(), v->begin() + static_cast<std::ptrdiff_t>(rank), v->end());
  return (*v)[rank];
}

}  // namespace ferry_tools
