// AVX2 build of the hash functions, compiled with -mavx2 (see CMakeLists.txt); only called
// when the CPU reports AVX2.
#define FAST_HASH_NS avx2
#include "fast_hash_impl.h"
