#pragma once

// Conversational dataset records (messages, ShareGPT, Alpaca, TRL conversational, UltraFeedback)
// normalised to one shape: the prompt conversation (every turn before the final assistant
// turn, OpenAI-style {"role", "content"} messages) and the final assistant turn's text.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace plad {

/** A conversational example: the turns before the response, the response and an optional rejected one. */
struct ConversationRecord
{
    nlohmann::ordered_json prompt = nlohmann::ordered_json::array(); ///< messages, the last one not the assistant's
    std::string response;
    std::optional<std::string> rejected;
    std::string id;
};

/** {"messages": [...]} (also TRL "prompt"/"completion" message lists): the last message is the response. */
ConversationRecord fromMessagesRecord(const nlohmann::ordered_json &doc);
/** {"conversations": [{"from", "value"}...], "system"?}: human/gpt/system/tool roles, LLaMA-Factory's names accepted. */
ConversationRecord fromShareGptRecord(const nlohmann::ordered_json &doc);
/** {"instruction", "input"?, "output", "system"?, "history"?: [[user, assistant], ...]}. */
ConversationRecord fromAlpacaRecord(const nlohmann::ordered_json &doc);
/**
 * TRL conversational preference data: {"prompt": [messages], "chosen": [messages], "rejected":
 * [messages]} (explicit prompt), or "chosen"/"rejected" whole conversations sharing every turn
 * but the last (implicit prompt).
 */
ConversationRecord fromTrlConversationalRecord(const nlohmann::ordered_json &doc);
/**
 * UltraFeedback: the binarized form ({"prompt": text, "chosen"/"rejected": conversations,
 * "prompt_id"}) or the raw form ({"instruction", "completions": [{"response", "overall_score"}]}:
 * the best-scored completion is the response, the worst the rejected one).
 */
ConversationRecord fromUltraFeedbackRecord(const nlohmann::ordered_json &doc);

/** The text of a message's content: a string, or the "text" parts of a list of content parts. */
std::string messageText(const nlohmann::ordered_json &message);

/**
 * A readable transcript of a prompt conversation ("System: ...\n\nUser: ...\n\nAssistant: ..."),
 * what the workbench shows and deduplicates on; models never see it (they get their chat template).
 */
std::string conversationTranscript(const nlohmann::ordered_json &messages);

/** Parses a stored prompt conversation (DatasetRecord::messages) back. Throws FormatError. */
nlohmann::ordered_json parseConversation(const std::string &messagesJson);

} // namespace plad
