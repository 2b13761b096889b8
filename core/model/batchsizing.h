#pragma once

// How many rows a model decodes together when a configuration leaves it to the workbench
// (`pairs.batch_size: 0`): from the model's shape and the memory the machine has free.

#include "model/modelconfig.h"

#include <cstdint>

namespace plad {

/**
 * Bytes one generating row holds: its KV cache (keys and values of every layer for `tokens`
 * positions, float32) and a few vocabulary-sized rows of logits, log-probs and probabilities.
 */
double generationBytesPerRow(const ModelConfig &config, int64_t tokens);

/**
 * Rows to decode together: as many as a quarter of `availableBytes` holds, at most 64 (where a
 * CPU's matrix products stop gaining from more rows), rounded down to a multiple of 16 from 16
 * on (OpenBLAS's float kernel works on blocks of 16 rows), at least 1.
 */
int64_t chooseGenerationRows(const ModelConfig &config, int64_t tokens, double availableBytes);

/** `configured` rows when positive, else chooseGenerationRows() with the memory available now. */
int64_t resolveGenerationRows(int64_t configured, const ModelConfig &config, int64_t tokens);

/** Memory the system can give now (/proc/meminfo's MemAvailable; half the physical memory where that is missing). */
double availableMemoryBytes();

} // namespace plad
