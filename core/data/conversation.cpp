#include "data/conversation.h"

#include "common/error.h"

#include <algorithm>
#include <cmath>

namespace plad {

namespace {

using Json = nlohmann::ordered_json;

std::string typeName(const Json &v)
{
    return v.type_name();
}

const Json &requireField(const Json &doc, const char *field)
{
    if (!doc.is_object())
        throw FormatError("expected a JSON object");
    const auto it = doc.find(field);
    if (it == doc.end() || it->is_null())
        throw FormatError("missing field \"" + std::string(field) + "\"");
    return *it;
}

std::string stringOf(const Json &doc, const char *field, bool required)
{
    const auto it = doc.find(field);
    if (it == doc.end() || it->is_null()) {
        if (required)
            throw FormatError("missing field \"" + std::string(field) + "\"");
        return {};
    }
    if (it->is_string())
        return it->get<std::string>();
    if (it->is_number_integer())
        return std::to_string(it->get<int64_t>());
    throw FormatError("field \"" + std::string(field) + "\" must be a string, found " + typeName(*it));
}

// Checks one message and returns it with a validated role; `where` names it in errors.
Json checkedMessage(const Json &m, const std::string &where)
{
    if (!m.is_object())
        throw FormatError(where + " must be an object with \"role\" and \"content\", found " + typeName(m));
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string() || role->get<std::string>().empty())
        throw FormatError(where + " has no \"role\" string");
    const auto content = m.find("content");
    const bool hasToolCalls = m.contains("tool_calls") && m["tool_calls"].is_array();
    if (content == m.end() || content->is_null()) {
        if (!hasToolCalls)
            throw FormatError(where + " has no \"content\"");
    } else if (!content->is_string() && !content->is_array()) {
        throw FormatError(where + " \"content\" must be a string or a list of parts, found " + typeName(*content));
    }
    return m;
}

Json checkedMessages(const Json &list, const std::string &field)
{
    if (!list.is_array())
        throw FormatError("field \"" + field + "\" must be a list of messages, found " + typeName(list));
    Json out = Json::array();
    for (size_t i = 0; i < list.size(); ++i)
        out.push_back(checkedMessage(list[i], field + "[" + std::to_string(i) + "]"));
    return out;
}

bool isAssistant(const Json &m)
{
    return m.value("role", "") == "assistant";
}

// Splits a conversation ending with the assistant's turn into (prompt turns, response text).
std::pair<Json, std::string> splitLastAssistant(const Json &messages, const std::string &field)
{
    if (messages.empty())
        throw FormatError("field \"" + field + "\" is an empty conversation");
    const Json &last = messages.back();
    if (!isAssistant(last))
        throw FormatError("the last message of \"" + field + "\" must be the assistant's response, found role \""
                          + last.value("role", "") + "\"");
    Json prompt = messages;
    prompt.erase(prompt.end() - 1);
    if (prompt.empty())
        throw FormatError("\"" + field + "\" has no turn before the assistant's response");
    return {prompt, messageText(last)};
}

// The assistant text of a completion given as a message list or a string.
std::string completionText(const Json &value, const std::string &field)
{
    if (value.is_string())
        return value.get<std::string>();
    const Json messages = checkedMessages(value, field);
    if (messages.empty() || !isAssistant(messages.back()))
        throw FormatError("field \"" + field + "\" must end with an assistant message");
    return messageText(messages.back());
}

std::string capitalised(std::string role)
{
    if (!role.empty() && role[0] >= 'a' && role[0] <= 'z')
        role[0] = static_cast<char>(role[0] - 'a' + 'A');
    return role;
}

} // namespace

std::string messageText(const Json &message)
{
    const auto it = message.find("content");
    if (it == message.end() || it->is_null())
        return {};
    if (it->is_string())
        return it->get<std::string>();
    std::string text;
    if (it->is_array())
        for (const auto &part : *it) {
            if (part.is_string())
                text += part.get<std::string>();
            else if (part.is_object() && (!part.contains("type") || part["type"] == "text") && part.contains("text") && part["text"].is_string())
                text += part["text"].get<std::string>();
        }
    return text;
}

std::string conversationTranscript(const Json &messages)
{
    std::string out;
    for (const auto &m : messages) {
        if (!out.empty())
            out += "\n\n";
        out += capitalised(m.value("role", "?")) + ": " + messageText(m);
    }
    return out;
}

Json parseConversation(const std::string &messagesJson)
{
    Json doc;
    try {
        doc = Json::parse(messagesJson);
    } catch (const nlohmann::json::exception &e) {
        throw FormatError(std::string("stored conversation is not JSON: ") + e.what());
    }
    return checkedMessages(doc, "messages");
}

ConversationRecord fromMessagesRecord(const Json &doc)
{
    ConversationRecord r;
    if (!doc.is_object())
        throw FormatError("expected a JSON object");
    if (!doc.contains("messages") && doc.contains("prompt") && doc.contains("completion")) {
        // TRL conversational prompt-completion records.
        r.prompt = checkedMessages(doc["prompt"], "prompt");
        r.response = completionText(doc["completion"], "completion");
    } else {
        auto [prompt, response] = splitLastAssistant(checkedMessages(requireField(doc, "messages"), "messages"), "messages");
        r.prompt = std::move(prompt);
        r.response = std::move(response);
    }
    r.id = stringOf(doc, "id", false);
    return r;
}

ConversationRecord fromShareGptRecord(const Json &doc)
{
    const Json &turns = requireField(doc, "conversations");
    if (!turns.is_array())
        throw FormatError("field \"conversations\" must be a list, found " + typeName(turns));
    Json messages = Json::array();
    if (const std::string system = stringOf(doc, "system", false); !system.empty())
        messages.push_back({{"role", "system"}, {"content", system}});
    for (size_t i = 0; i < turns.size(); ++i) {
        const std::string where = "conversations[" + std::to_string(i) + "]";
        const Json &t = turns[i];
        if (!t.is_object())
            throw FormatError(where + " must be an object with \"from\" and \"value\"");
        const std::string from = stringOf(t, "from", true);
        const std::string value = stringOf(t, "value", true);
        std::string role;
        if (from == "human" || from == "user")
            role = "user";
        else if (from == "gpt" || from == "assistant" || from == "chatgpt" || from == "bard" || from == "bing" || from == "model")
            role = "assistant";
        else if (from == "system")
            role = "system";
        else if (from == "tool" || from == "observation" || from == "function_response")
            role = "tool";
        else
            throw FormatError(where + " has an unknown \"from\": \"" + from + "\" (use human, gpt, system or tool)");
        messages.push_back({{"role", role}, {"content", value}});
    }
    ConversationRecord r;
    auto [prompt, response] = splitLastAssistant(messages, "conversations");
    r.prompt = std::move(prompt);
    r.response = std::move(response);
    r.id = stringOf(doc, "id", false);
    return r;
}

ConversationRecord fromAlpacaRecord(const Json &doc)
{
    if (!doc.is_object())
        throw FormatError("expected a JSON object");
    const std::string instruction = stringOf(doc, "instruction", true);
    const std::string input = stringOf(doc, "input", false);
    ConversationRecord r;
    if (const std::string system = stringOf(doc, "system", false); !system.empty())
        r.prompt.push_back({{"role", "system"}, {"content", system}});
    if (doc.contains("history") && !doc["history"].is_null()) {
        const Json &history = doc["history"];
        if (!history.is_array())
            throw FormatError("field \"history\" must be a list of [user, assistant] pairs");
        for (size_t i = 0; i < history.size(); ++i) {
            const Json &turn = history[i];
            if (!turn.is_array() || turn.size() != 2 || !turn[0].is_string() || !turn[1].is_string())
                throw FormatError("history[" + std::to_string(i) + "] must be a [user, assistant] pair of strings");
            r.prompt.push_back({{"role", "user"}, {"content", turn[0]}});
            r.prompt.push_back({{"role", "assistant"}, {"content", turn[1]}});
        }
    }
    // The instruction and its input form one user turn, as Alpaca converters join them.
    r.prompt.push_back({{"role", "user"}, {"content", input.empty() ? instruction : instruction + "\n" + input}});
    r.response = stringOf(doc, "output", true);
    r.id = stringOf(doc, "id", false);
    return r;
}

ConversationRecord fromTrlConversationalRecord(const Json &doc)
{
    if (!doc.is_object())
        throw FormatError("expected a JSON object");
    const Json &chosen = requireField(doc, "chosen");
    const Json &rejected = requireField(doc, "rejected");
    ConversationRecord r;
    if (doc.contains("prompt") && !doc["prompt"].is_null()) {
        const Json &prompt = doc["prompt"];
        if (prompt.is_string())
            r.prompt = Json::array({{{"role", "user"}, {"content", prompt}}});
        else
            r.prompt = checkedMessages(prompt, "prompt");
        // Binarized datasets repeat the prompt inside chosen/rejected; only the last turn is the answer.
        r.response = completionText(chosen, "chosen");
        r.rejected = completionText(rejected, "rejected");
    } else {
        const Json c = checkedMessages(chosen, "chosen");
        const Json j = checkedMessages(rejected, "rejected");
        auto [promptC, responseC] = splitLastAssistant(c, "chosen");
        auto [promptR, responseR] = splitLastAssistant(j, "rejected");
        if (promptC != promptR)
            throw FormatError("\"chosen\" and \"rejected\" differ before their last assistant turn (implicit prompt)");
        r.prompt = std::move(promptC);
        r.response = std::move(responseC);
        r.rejected = std::move(responseR);
    }
    if (r.prompt.empty())
        throw FormatError("the prompt conversation is empty");
    if (isAssistant(r.prompt.back()))
        throw FormatError("the prompt conversation ends with an assistant turn");
    r.id = stringOf(doc, "id", false);
    return r;
}

ConversationRecord fromUltraFeedbackRecord(const Json &doc)
{
    if (!doc.is_object())
        throw FormatError("expected a JSON object");
    if (!doc.contains("completions")) {
        ConversationRecord r = fromTrlConversationalRecord(doc);
        if (r.id.empty())
            r.id = stringOf(doc, "prompt_id", false);
        return r;
    }
    const std::string instruction = stringOf(doc, "instruction", true);
    const Json &completions = doc["completions"];
    if (!completions.is_array() || completions.size() < 2)
        throw FormatError("field \"completions\" must list at least two completions");
    int best = -1, worst = -1;
    double bestScore = 0, worstScore = 0;
    for (size_t i = 0; i < completions.size(); ++i) {
        const Json &c = completions[i];
        const std::string where = "completions[" + std::to_string(i) + "]";
        if (!c.is_object() || !c.contains("response") || !c["response"].is_string())
            throw FormatError(where + " has no \"response\" string");
        const auto score = c.find("overall_score");
        if (score == c.end() || !score->is_number())
            throw FormatError(where + " has no numeric \"overall_score\"");
        const double s = score->get<double>();
        if (!std::isfinite(s))
            throw FormatError(where + " \"overall_score\" is not finite");
        // The first of equal scores wins either way, so the choice is stable.
        if (best < 0 || s > bestScore)
            best = static_cast<int>(i), bestScore = s;
        if (worst < 0 || s < worstScore)
            worst = static_cast<int>(i), worstScore = s;
    }
    if (bestScore == worstScore)
        throw FormatError("all completions have the same overall_score; no preference");
    ConversationRecord r;
    r.prompt = Json::array({{{"role", "user"}, {"content", instruction}}});
    r.response = completions[static_cast<size_t>(best)]["response"].get<std::string>();
    r.rejected = completions[static_cast<size_t>(worst)]["response"].get<std::string>();
    r.id = stringOf(doc, "id", false);
    return r;
}

} // namespace plad
