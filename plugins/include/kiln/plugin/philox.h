/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) and the
 * mappings from its output words to Kiln's random fills. Every backend uses these exact formulas,
 * so the same seed and offset give the same numbers on every backend. Plain C; callable from CUDA
 * when KILN_PHILOX_QUALIFIER is defined as `static __host__ __device__ inline`
 * before inclusion. Integer outputs of UNIFORM use the 53-bit draw and floor it. */
#ifndef KILN_PLUGIN_PHILOX_H
#define KILN_PLUGIN_PHILOX_H

#include <math.h>
#include <stdint.h>

#ifndef KILN_PHILOX_QUALIFIER
#define KILN_PHILOX_QUALIFIER static inline
#endif

typedef struct kiln_philox_words {
  uint32_t r[4];
} kiln_philox_words;

KILN_PHILOX_QUALIFIER kiln_philox_words kiln_philox4x32_10(uint64_t seed, uint64_t counter) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = (uint64_t)0xD2511F53u * c0;
    uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
    uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
    uint32_t n1 = (uint32_t)p1;
    uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
    uint32_t n3 = (uint32_t)p0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  kiln_philox_words w;
  w.r[0] = c0; w.r[1] = c1; w.r[2] = c2; w.r[3] = c3;
  return w;
}

/* Uniform in [0, 1) with 24 bits (for float32 outputs) from r0. */
KILN_PHILOX_QUALIFIER double kiln_philox_unit24(kiln_philox_words w) {
  return (double)(w.r[0] >> 8) * (1.0 / 16777216.0);
}
/* Uniform in [0, 1) with 53 bits (for float64 outputs) from r0, r1. */
KILN_PHILOX_QUALIFIER double kiln_philox_unit53(kiln_philox_words w) {
  uint64_t bits = ((uint64_t)w.r[0] << 32 | w.r[1]) >> 11;
  return (double)bits * (1.0 / 9007199254740992.0);
}
/* Uniform in [0, 1) with 32 bits from r0 (bernoulli and integer draws). */
KILN_PHILOX_QUALIFIER double kiln_philox_unit32(kiln_philox_words w) {
  return (double)w.r[0] * (1.0 / 4294967296.0);
}
/* Standard normal by Box-Muller from r2, r3 (u1 in (0, 1], u2 in [0, 1)). */
KILN_PHILOX_QUALIFIER double kiln_philox_normal(kiln_philox_words w) {
  double u1 = ((double)w.r[2] + 1.0) * (1.0 / 4294967296.0);
  double u2 = (double)w.r[3] * (1.0 / 4294967296.0);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925286766559 * u2);
}

/* The value of element i for each random op, in double; backends cast it to the output dtype
 * (float32 and float64 use unit24 and unit53 respectively; integer outputs of uniform floor it). */
KILN_PHILOX_QUALIFIER double kiln_random_uniform(uint64_t seed, uint64_t c, int is_double, double lo, double hi) {
  kiln_philox_words w = kiln_philox4x32_10(seed, c);
  double u = is_double ? kiln_philox_unit53(w) : kiln_philox_unit24(w);
  return lo + (hi - lo) * u;
}
KILN_PHILOX_QUALIFIER double kiln_random_normal(uint64_t seed, uint64_t c, double mean, double std) {
  return mean + std * kiln_philox_normal(kiln_philox4x32_10(seed, c));
}
KILN_PHILOX_QUALIFIER double kiln_random_bernoulli(uint64_t seed, uint64_t c, double p) {
  return kiln_philox_unit32(kiln_philox4x32_10(seed, c)) < p ? 1.0 : 0.0;
}

#endif /* KILN_PLUGIN_PHILOX_H */
