#pragma once

#include <string>
#include <string_view>

namespace plad {

/**
 * A prompt as the data gives it: plain text, or (conversational records) a JSON list of
 * messages with `text` a readable transcript. Converts implicitly from text. A view: the
 * strings it names must outlive it.
 */
struct PromptInput
{
    PromptInput(const std::string &text) : text(text) {}
    PromptInput(const char *text) : text(text) {}
    PromptInput(std::string_view text, std::string_view messages) : text(text), messages(messages) {}
    std::string_view text;
    std::string_view messages; ///< empty: not a conversation
    bool isConversational() const { return !messages.empty(); }
};

} // namespace plad
