// AVX-512 build of the hash functions, compiled for x86-64-v4 at -O3 (see CMakeLists.txt);
// only called when the CPU reports x86-64-v4. At -O2 GCC leaves XXH3's long-input loop
// out of line and most of the gain over AVX2 is lost.
#define FAST_HASH_NS avx512
#include "fast_hash_impl.h"
