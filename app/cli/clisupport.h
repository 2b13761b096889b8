#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace plad::cli {

/** Parses "3,17,42" into token ids; throws plad::Error naming the option on bad input. */
std::vector<int64_t> parseIdList(const std::string &text, const std::string &option);

/** Prints a JSON document on one line to stdout. */
void printJson(const nlohmann::json &doc);

} // namespace plad::cli
