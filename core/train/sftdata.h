#pragma once

#include "common/enumnames.h"

#include "data/dataset.h"

#include <cstdint>
#include <string>
#include <vector>

namespace plad {

class Tokenizer;
struct PromptTemplate;
struct PromptInput;

/** A training example as token ids: the prompt (context only) and the response (learned). */
struct SequencePair
{
    std::vector<int64_t> prompt;
    std::vector<int64_t> response;
};

/**
 * Length limits and the truncation policy for turning records into token ids.
 *
 * Policy: the response is cut to maxResponseTokens (keeping its start; a cut response loses its
 * EOS). The prompt's text is then cut so that template + prompt + response fit in
 * contextLength and the prompt text has at most maxPromptTokens, keeping the start of the text
 * (PromptKeep::Start) or its end (PromptKeep::End); the template's own text is never cut.
 */
enum class PromptKeep { Start, End };
inline constexpr EnumName<PromptKeep> promptKeepNames[] = {{PromptKeep::Start, "start"}, {PromptKeep::End, "end"}};

struct EncodingLimits
{
    int64_t contextLength = 1024;
    int64_t maxPromptTokens = 768;
    int64_t maxResponseTokens = 256;
    PromptKeep promptKeep = PromptKeep::Start;
};

struct EncodedExamples
{
    std::vector<SequencePair> examples;
    int64_t truncatedPrompts = 0;
    int64_t truncatedResponses = 0;
};

/** Encodes records with `tokenizer` and `promptTemplate` under `limits`. */
EncodedExamples encodeExamples(const std::vector<DatasetRecord> &records, const Tokenizer &tokenizer,
                               const PromptTemplate &promptTemplate, const EncodingLimits &limits);

/**
 * Prompt ids for generation, cut by the same policy (leaving room for `responseBudget` new
 * tokens). In chat mode the cut falls on the last message's content (its start or its end kept
 * by the policy); the template's text and earlier turns are never cut.
 */
std::vector<int64_t> encodePromptWithin(const PromptInput &prompt, const Tokenizer &tokenizer,
                                        const PromptTemplate &promptTemplate, const EncodingLimits &limits,
                                        int64_t responseBudget, bool *truncated = nullptr);

/**
 * The examples as language modelling on their whole text: the first token is the only context
 * and every later token (prompt, template text and response) is predicted. An example whose
 * prompt is empty keeps its response's first token as the context.
 */
void toLanguageModelling(std::vector<SequencePair> &examples);

} // namespace plad
