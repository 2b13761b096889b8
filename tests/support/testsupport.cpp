#include "testsupport.h"

#include <fstream>
#include <stdexcept>

namespace plad::test {

std::filesystem::path dataDir()
{
    return std::filesystem::path(PLAD_TEST_DATA);
}

std::filesystem::path modelDir(const std::string &name)
{
    return dataDir() / "models" / name;
}

nlohmann::json expectedFor(const std::string &name)
{
    std::ifstream in(modelDir(name) / "expected.json");
    if (!in)
        throw std::runtime_error("missing expected.json for " + name);
    return nlohmann::json::parse(in);
}

std::vector<int64_t> ids(const nlohmann::json &array)
{
    return array.get<std::vector<int64_t>>();
}

std::filesystem::path copyModel(const std::string &name, const std::filesystem::path &target)
{
    const auto out = target / name;
    std::filesystem::create_directories(out);
    for (const char *file : {"config.json", "model.safetensors"})
        std::filesystem::copy_file(modelDir(name) / file, out / file, std::filesystem::copy_options::overwrite_existing);
    return out;
}

void writeBytes(const std::filesystem::path &path, const std::string &bytes)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string safetensorsImage(const std::string &headerJson, const std::string &data)
{
    std::string image(8, '\0');
    uint64_t n = headerJson.size();
    for (int i = 0; i < 8; ++i)
        image[static_cast<size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xff);
    return image + headerJson + data;
}

} // namespace plad::test
