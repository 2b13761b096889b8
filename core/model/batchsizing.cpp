#include "model/batchsizing.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace plad {

namespace {

constexpr int64_t kMostRows = 64;

} // namespace

double generationBytesPerRow(const ModelConfig &config, int64_t tokens)
{
    const int64_t kvHeads = config.numKeyValueHeads > 0 ? config.numKeyValueHeads : config.numHeads;
    const int64_t headDim = config.headDim > 0 ? config.headDim : (config.numHeads > 0 ? config.hiddenSize / config.numHeads : 0);
    const double cache = 2.0 * static_cast<double>(config.numLayers) * static_cast<double>(kvHeads) * static_cast<double>(headDim)
                         * static_cast<double>(std::max<int64_t>(tokens, 1)) * 4.0;
    const double logits = 4.0 * static_cast<double>(config.vocabSize) * 4.0;
    return cache + logits;
}

int64_t chooseGenerationRows(const ModelConfig &config, int64_t tokens, double availableBytes)
{
    const double perRow = std::max(1.0, generationBytesPerRow(config, tokens));
    const double fits = std::max(0.0, availableBytes) / 4.0 / perRow;
    int64_t rows = fits >= static_cast<double>(kMostRows) ? kMostRows : static_cast<int64_t>(fits);
    if (rows >= 16)
        rows -= rows % 16;
    return std::max<int64_t>(1, rows);
}

int64_t resolveGenerationRows(int64_t configured, const ModelConfig &config, int64_t tokens)
{
    return configured > 0 ? configured : chooseGenerationRows(config, tokens, availableMemoryBytes());
}

double availableMemoryBytes()
{
    std::ifstream meminfo("/proc/meminfo");
    std::string line;
    while (std::getline(meminfo, line)) {
        std::istringstream in(line);
        std::string key;
        double kilobytes = 0;
        if (in >> key >> kilobytes && key == "MemAvailable:")
            return kilobytes * 1024.0;
    }
    const long pages = sysconf(_SC_PHYS_PAGES), pageSize = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && pageSize > 0 ? static_cast<double>(pages) * static_cast<double>(pageSize) / 2.0 : 1e9;
}

} // namespace plad
