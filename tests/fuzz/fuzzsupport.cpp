#include "fuzzsupport.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <system_error>

#include <unistd.h>

namespace plad::fuzz {
namespace fs = std::filesystem;
using nlohmann::json;
// The mutators work on std::map objects: the library's ordered_map trips its own parent-link
// checks under JSON_DIAGNOSTICS (an assertion in nlohmann 3.11.2 when a subtree is copied).
using ordered_json = nlohmann::json;

namespace {

struct Scratch
{
    fs::path directory;
    Scratch()
    {
        // /dev/shm when there is one: the harnesses write a file per input.
        std::error_code ec;
        const fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
        directory = base / ("plad-fuzz-" + std::to_string(::getpid()));
        fs::create_directories(directory);
    }
    ~Scratch()
    {
        std::error_code ec;
        fs::remove_all(directory, ec);
    }
};

ordered_json interestingValue(Random &random)
{
    switch (random.below(24)) {
    case 0: return nullptr;
    case 1: return true;
    case 2: return false;
    case 3: return 0;
    case 4: return -1;
    case 5: return int64_t(1) << 31;
    case 6: return std::numeric_limits<int64_t>::max();
    case 7: return std::numeric_limits<int64_t>::min();
    case 8: return std::numeric_limits<uint64_t>::max();
    case 9: return 1e308;
    case 10: return -1e308;
    case 11: return 0.5;
    case 12: return 4.9e-324;
    case 13: return "";
    case 14: return std::string("a\0b", 3);
    case 15: return std::string(4096, 'A');
    case 16: return "../../../../etc/passwd";
    case 17: return "{{ x }}{% for a in b %}";
    case 18: return "\xff\xfe\xc3";
    case 19: return ordered_json::array();
    case 20: return ordered_json::object();
    case 21: return ordered_json::array({1, 2, 3});
    case 22: {
        ordered_json deep = ordered_json::array();
        for (int i = 0; i < 200; ++i)
            deep = ordered_json::array({deep});
        return deep;
    }
    default: return -0.0;
    }
}

void collect(ordered_json &node, std::vector<ordered_json *> &out)
{
    out.push_back(&node);
    if (node.is_object() || node.is_array())
        for (auto &child : node)
            collect(child, out);
}

} // namespace

const fs::path &scratchDirectory()
{
    static Scratch scratch;
    return scratch.directory;
}

fs::path writeScratch(const std::string &name, std::string_view bytes)
{
    const fs::path path = scratchDirectory() / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out)
        defect("cannot write the scratch file " + path.string());
    return path;
}

void defect(const std::string &what)
{
    std::fprintf(stderr, "harness: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

void expectCleanRejection(const std::string &message, const std::string &mustName)
{
    if (message.empty())
        defect("a rejection with an empty message");
    if (message.find('\n') != std::string::npos)
        defect("a rejection message of more than one line: " + message);
    if (message.find(mustName) == std::string::npos)
        defect("a rejection that does not name \"" + mustName + "\": " + message);
}

std::string mutateBytes(std::string text, size_t maxSize)
{
    const size_t original = text.size();
    text.resize(std::max(maxSize, original) + 1);
    const size_t size = LLVMFuzzerMutate(reinterpret_cast<uint8_t *>(text.data()), original, maxSize);
    text.resize(size);
    return text;
}

std::string mutateJson(const std::string &text, size_t maxSize, Random &random, const Dictionary &dict)
{
    ordered_json doc = ordered_json::parse(text, nullptr, false);
    if (doc.is_discarded() || random.chance(8))
        return mutateBytes(text, maxSize);
    const int rounds = 1 + int(random.below(3));
    for (int round = 0; round < rounds; ++round) {
        std::vector<ordered_json *> nodes;
        collect(doc, nodes);
        ordered_json &node = *nodes[random.below(nodes.size())];
        switch (random.below(9)) {
        case 0:
        case 1:
            node = interestingValue(random);
            break;
        case 2:
            if (node.is_object() && !node.empty()) {
                auto it = node.begin();
                std::advance(it, long(random.below(node.size())));
                node.erase(it.key());
            } else if (node.is_array() && !node.empty()) {
                node.erase(random.below(node.size()));
            }
            break;
        case 3:
            if (node.is_object()) {
                std::string key = !dict.keys.empty() && random.chance(80) ? dict.keys[random.below(dict.keys.size())]
                                                                           : std::string("k") + char('a' + random.below(26));
                node[key] = !dict.values.empty() && random.chance(60) ? dict.values[random.below(dict.values.size())]
                                                                     : interestingValue(random);
            } else if (node.is_array()) {
            {
                // Copied out first: push_back may reallocate the element it would copy from.
                ordered_json element = node.empty() ? interestingValue(random) : ordered_json(node[random.below(node.size())]);
                node.push_back(std::move(element));
            }
            }
            break;
        case 4:
        {
            // A copy of another subtree (or of itself, or of an ancestor): copied out first, as
            // assigning a node from inside its own tree breaks the library's parent links.
            nlohmann::json copy = *nodes[random.below(nodes.size())];
            node = std::move(copy);
        }
            break;
        case 5:
            if (node.is_string())
                node = mutateBytes(node.get<std::string>(), std::min<size_t>(maxSize, node.get<std::string>().size() * 2 + 16));
            else if (node.is_number_integer())
                // Wrapping, as the harness's own arithmetic must not overflow at INT64_MAX.
                node = static_cast<int64_t>(static_cast<uint64_t>(node.get<int64_t>()) + random.below(5) - 2);
            else if (node.is_number())
                node = node.get<double>() * (random.chance(50) ? -1.0 : 1e6);
            break;
        case 6:
            if (node.is_array() && node.size() > 1) // more elements, to stress lengths
                for (size_t i = 0, n = node.size(); i < n && node.size() < 4096; ++i) {
                    ordered_json element = node[i];
                    node.push_back(std::move(element));
                }
            break;
        case 7:
            if (!dict.values.empty())
                node = dict.values[random.below(dict.values.size())];
            break;
        default:
            if (node.is_object() && node.size() > 1) { // keys in another order
                ordered_json reordered = ordered_json::object();
                std::vector<std::string> keys;
                for (auto it = node.begin(); it != node.end(); ++it)
                    keys.push_back(it.key());
                std::shuffle(keys.begin(), keys.end(), random.engine());
                for (const auto &k : keys)
                    reordered[k] = node[k];
                node = reordered;
            }
            break;
        }
    }
    std::string out = doc.dump(random.chance(50) ? -1 : 1, ' ', false, ordered_json::error_handler_t::replace);
    if (out.size() > maxSize)
        return mutateBytes(text, maxSize);
    return out;
}

std::string mutateJsonLines(const std::string &text, size_t maxSize, Random &random, const Dictionary &dict)
{
    std::vector<std::string> lines;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t end = text.find('\n', start);
        lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos)
            break;
        start = end + 1;
    }
    const size_t i = random.below(lines.size());
    switch (random.below(8)) {
    case 0:
    case 1:
    case 2:
        lines[i] = mutateJson(lines[i], maxSize, random, dict);
        // A pretty-printed line becomes several: keep the record on one line most of the time.
        if (random.chance(90))
            for (char &c : lines[i])
                if (c == '\n')
                    c = ' ';
        break;
    case 3:
        lines.insert(lines.begin() + long(i), lines[i]);
        break;
    case 4:
        if (lines.size() > 1)
            lines.erase(lines.begin() + long(i));
        break;
    case 5:
        std::swap(lines[i], lines[random.below(lines.size())]);
        break;
    case 6:
        lines[i] = lines[i].substr(0, random.below(lines[i].size() + 1));
        break;
    default:
        return mutateBytes(text, maxSize);
    }
    std::string out;
    for (size_t k = 0; k < lines.size(); ++k)
        out += (k ? "\n" : "") + lines[k];
    return out.size() > maxSize ? mutateBytes(text, maxSize) : out;
}

size_t store(const std::string &mutated, uint8_t *data, size_t maxSize)
{
    const size_t n = std::min(mutated.size(), maxSize);
    std::copy_n(mutated.data(), n, data);
    return n;
}

} // namespace plad::fuzz
