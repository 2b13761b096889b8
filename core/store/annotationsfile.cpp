#include "store/annotationsfile.h"

#include "common/enumnames.h"
#include "common/error.h"

#include <cmath>

#include <nlohmann/json.hpp>

namespace plad {

std::vector<AnnotationLine> parseAnnotationsJsonl(const std::string &text, const std::string &source)
{
    std::vector<AnnotationLine> out;
    size_t start = 0;
    for (int64_t number = 1; start <= text.size(); ++number) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos)
            end = text.size();
        const std::string_view line(text.data() + start, end - start);
        start = end + 1;
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
            if (end == text.size())
                break;
            continue;
        }
        const std::string where = source + ":" + std::to_string(number) + ": ";
        const auto doc = nlohmann::json::parse(line, nullptr, false);
        if (doc.is_discarded())
            throw Error(where + "not valid JSON");
        if (!doc.is_object() || !doc.contains("pair_id") || !doc["pair_id"].is_number_integer())
            throw Error(where + "\"pair_id\" (an integer) is required");
        if (!doc.contains("action") || !doc["action"].is_string())
            throw Error(where + "\"action\" (flip, discard, weight, note or clear) is required");
        AnnotationLine a;
        a.line = number;
        a.annotation.pairId = doc["pair_id"].get<int64_t>();
        const std::string action = doc["action"].get<std::string>();
        a.clear = action == "clear";
        if (!a.clear) {
            const auto known = findEnum<AnnotationAction>(annotationActionNames, action);
            if (!known)
                throw Error(where + "unknown action \"" + action + "\" (flip, discard, weight, note or clear)");
            a.annotation.action = *known;
        }
        if (doc.contains("weight")) {
            if (!doc["weight"].is_number())
                throw Error(where + "\"weight\" must be a number");
            a.annotation.weight = doc["weight"].get<double>();
            if (!std::isfinite(a.annotation.weight) || a.annotation.weight < 0)
                throw Error(where + "\"weight\" must be a finite, non-negative number");
        }
        if (doc.contains("note")) {
            if (!doc["note"].is_string())
                throw Error(where + "\"note\" must be a string");
            a.annotation.note = doc["note"].get<std::string>();
        }
        out.push_back(std::move(a));
        if (end == text.size())
            break;
    }
    return out;
}

} // namespace plad
