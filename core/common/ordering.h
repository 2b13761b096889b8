#pragma once

// The order batches are bucketed in: longest first, so rows of a batch need little padding.

#include <algorithm>
#include <cstddef>
#include <numeric>
#include <vector>

namespace plad {

/** Indices 0..n-1 sorted by `length(i)`, longest first, equal lengths in index order. */
template <typename Length>
std::vector<size_t> longestFirst(size_t n, Length &&length)
{
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return length(a) > length(b); });
    return order;
}

} // namespace plad
