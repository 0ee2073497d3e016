// Baseline build of the hash functions (see fast_hash.h).
#define FAST_HASH_NS sse2
#include "fast_hash_impl.h"
