// Philox4x32-10 (Salmon et al., SC'11), the counter-based generator behind every random
// fill. A (seed, element index) pair maps to the same value on the CPU and the GPU, so
// initialisations agree across backends and need no generator state.
#pragma once
#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define CR_HD __host__ __device__ __forceinline__
#else
#define CR_HD inline
#endif

namespace cr {

struct Philox4 {
  uint32_t v[4];
};

CR_HD uint32_t mulhilo32(uint32_t a, uint32_t b, uint32_t* hi) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  *hi = static_cast<uint32_t>(p >> 32);
  return static_cast<uint32_t>(p);
}

// Four 32-bit outputs for a 128-bit counter (c0..c3) and a 64-bit key.
CR_HD Philox4 philox4x32_10(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint64_t key) {
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; round++) {
    uint32_t hi0, hi1;
    uint32_t lo0 = mulhilo32(0xD2511F53u, c0, &hi0);
    uint32_t lo1 = mulhilo32(0xCD9E8D57u, c2, &hi1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0;
    c1 = n1;
    c2 = n2;
    c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from the top 24 bits: exactly representable in fp32.
CR_HD float philox_unit(uint32_t r) { return static_cast<float>(r >> 8) * (1.0f / 16777216.0f); }

// Element i of a uniform fill: block i / 4 of the stream, word i % 4.
CR_HD float philox_uniform(uint64_t seed, uint64_t i) {
  Philox4 r = philox4x32_10(static_cast<uint32_t>(i >> 2), static_cast<uint32_t>(i >> 34), 0u, 0u, seed);
  return philox_unit(r.v[i & 3]);
}

// Elements 2k (cosine branch) and 2k+1 (sine branch) of a standard normal fill, from block
// k (Box-Muller). Computed in double so both backends round alike.
CR_HD void philox_normal_pair(uint64_t seed, uint64_t k, float out[2]) {
  Philox4 r = philox4x32_10(static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32), 1u, 0u, seed);
  double u1 = (static_cast<double>(r.v[0] >> 8) + 1.0) * (1.0 / 16777216.0);  // (0, 1]
  double u2 = static_cast<double>(r.v[1] >> 8) * (1.0 / 16777216.0);
  double radius = sqrt(-2.0 * log(u1));
  double angle = 6.283185307179586 * u2;
  out[0] = static_cast<float>(radius * cos(angle));
  out[1] = static_cast<float>(radius * sin(angle));
}

// Element i of a standard normal fill.
CR_HD float philox_normal(uint64_t seed, uint64_t i) {
  float pair[2];
  philox_normal_pair(seed, i >> 1, pair);
  return pair[i & 1];
}

}  // namespace cr
