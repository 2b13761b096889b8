#pragma once

// Scalar math written so that an OpenMP SIMD loop can vectorise it (no libm calls), for the
// inference kernels (attention.cpp, inferencekernels.cpp).

#include <cstdint>

// A kernel marked PLAD_VECTOR_CLONES is compiled twice, for baseline x86-64 and for the x86-64-v3
// level (AVX2, FMA), and the loader picks the one the CPU runs (GCC function multi-versioning).
// The clone names an ISA level, not a processor: GCC dispatches "arch=x86-64-v3" on the CPU model
// (only Intel Haswell parts get it), "arch=x86-64-v3" on the features.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define PLAD_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define PLAD_VECTOR_CLONES
#endif

namespace plad::vectormath {

/**
 * e^x for x in [-87, 88] (clamped outside it), within 2 ulp of std::exp: Cody-Waite range
 * reduction by ln 2 and a degree-6 polynomial, the power of two built in the exponent bits.
 */
inline __attribute__((always_inline)) float expClamped(float x)
{
    const float clamped = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    // Round to nearest through the 1.5 * 2^23 trick (no call to roundf).
    const float n = (clamped * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = clamped - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    __builtin_memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/** e^x for x <= 0; 0 below -87, where float32's exp underflows. */
inline __attribute__((always_inline)) float expNonPositive(float x)
{
    return x < -87.0f ? 0.0f : expClamped(x);
}

} // namespace plad::vectormath
