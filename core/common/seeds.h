#pragma once

// Seeds derived from other seeds, so that what a sampled row draws depends only on who it is
// (the run's seed, the round, the prompt, the sample index), never on which batch it ran in.

#include <cstdint>
#include <initializer_list>

namespace plad {

/** SplitMix64's finaliser: a bijection of 64-bit values that spreads every input bit. */
constexpr uint64_t splitMix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/** A seed for the child `part` of `seed`: distinct parts give unrelated seeds. */
constexpr uint64_t deriveSeed(uint64_t seed, uint64_t part)
{
    return splitMix64(seed ^ splitMix64(part + 0x632be59bd9b4e019ull));
}

/** deriveSeed applied part by part: deriveSeed(deriveSeed(seed, a), b)... */
constexpr uint64_t deriveSeed(uint64_t seed, std::initializer_list<uint64_t> parts)
{
    for (const uint64_t part : parts)
        seed = deriveSeed(seed, part);
    return seed;
}

/** The `draw`-th uniform number in [0, 1) of a stream named by `seed` (53 random bits). */
constexpr double uniformDraw(uint64_t seed, uint64_t draw)
{
    return static_cast<double>(deriveSeed(seed, draw) >> 11) * 0x1.0p-53;
}

} // namespace plad
