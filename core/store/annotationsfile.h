#pragma once

#include "store/records.h"

#include <cstdint>
#include <string>
#include <vector>

namespace plad {

/** One line of an annotations file: what to do to which pair. */
struct AnnotationLine
{
    PairAnnotation annotation;
    bool clear = false; ///< action "clear": remove the pair's annotation
    int64_t line = 0;   ///< 1-based line in the file, for messages
};

/**
 * Parses annotations JSONL (`plad pairs import-annotations`): one object per non-blank line,
 * {"pair_id": INT, "action": "flip"|"discard"|"weight"|"note"|"clear", "weight": NUMBER,
 * "note": STRING}. `source` names the file in errors. Throws Error "SOURCE:LINE: problem" for
 * the first bad line; nothing is returned unless every line is valid. Whether each pair exists
 * is the caller's check (it needs the run).
 */
std::vector<AnnotationLine> parseAnnotationsJsonl(const std::string &text, const std::string &source);

} // namespace plad
