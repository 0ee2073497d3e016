// AVX-512 build of the hash functions, compiled with -mavx512f (see CMakeLists.txt); only
// called when the CPU reports AVX-512F. About 1.5x the AVX2 build on the 32k-token lookup.
#define FAST_HASH_NS avx512
#include "fast_hash_impl.h"
