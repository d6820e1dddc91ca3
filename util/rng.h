/*
 * The project's random numbers: xoshiro256** seeded through splitmix64,
 * deterministic from a 64-bit seed.  The fabric's faults (nicmodel/), the
 * emulator's fault shim (emu/) and the workloads' plans draw from it, so
 * one seed means the same thing everywhere.
 */
#ifndef UTIL_RNG_H
#define UTIL_RNG_H

#include <stdint.h>

/* splitmix64: one step of the counter *s, and its output. */
static inline uint64_t vs_splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A xoshiro256** state from a seed. */
static inline void vs_rng_seed(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        s[i] = vs_splitmix64(&seed);
}

static inline uint64_t vs_rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: the next 64 random bits. */
static inline uint64_t vs_rng_next(uint64_t s[4])
{
    uint64_t result = vs_rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = vs_rotl64(s[3], 45);
    return result;
}

/* 53 random bits as a uniform double in [0, 1). */
static inline double vs_unit(uint64_t bits) { return (double)(bits >> 11) * 0x1.0p-53; }

#endif
