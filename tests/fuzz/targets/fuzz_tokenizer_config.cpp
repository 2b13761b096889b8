// tokenizer_config.json and its chat template: ChatTemplate::fromTokenizerConfig (a string, or
// a list of named templates; special tokens as strings or AddedToken objects), then a render
// of a fixed conversation, with and without the generation prompt.
#include "fuzzsupport.h"

#include "chat/chattemplate.h"
#include "common/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    using namespace plad;
    const auto path = fuzz::writeScratch("tokenizer_config.json", std::string_view(reinterpret_cast<const char *>(data), size));
    try {
        const ChatTemplate chat = ChatTemplate::fromTokenizerConfig(path);
        ChatTemplate::Input input;
        input.messages = nlohmann::json::parse(
            R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Sum up: a b c"}])");
        for (const bool prompt : {false, true}) {
            input.addGenerationPrompt = prompt;
            jinja::RenderOptions options;
            options.maxOutputBytes = 1 << 20;
            options.now = std::tm{};
            chat.render(input, options);
        }
    } catch (const Error &e) {
        fuzz::expectCleanRejection(e.what(), path.string());
    }
    return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t maxSize, unsigned int seed)
{
    plad::fuzz::Random random(seed);
    static const plad::fuzz::Dictionary dict{
        {"chat_template", "bos_token", "eos_token", "pad_token", "unk_token", "add_bos_token", "add_eos_token",
         "added_tokens_decoder", "name", "template", "content", "model_max_length", "tokenizer_class"},
        {"{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}",
         "{{ bos_token }}{% if add_generation_prompt %}A:{% endif %}", "{{ raise_exception('no') }}",
         "{% for i in range(100000) %}{% endfor %}", "{% macro f(x) %}{{ f(x) }}{% endmacro %}{{ f(1) }}",
         "{{ messages[0]['content'] | upper | trim }}", "{% set ns = namespace(a=1) %}{{ ns.a * 10 }}",
         nlohmann::json::array({{{"name", "default"}, {"template", "{{ messages | length }}"}}}),
         nlohmann::json{{"content", "<s>"}, {"lstrip", false}}, "<|im_end|>"}};
    std::string text(reinterpret_cast<char *>(data), size);
    // Half the time, mutate the template text itself (Jinja syntax), not the JSON around it.
    auto doc = nlohmann::json::parse(text, nullptr, false);
    if (!doc.is_discarded() && doc.is_object() && doc.contains("chat_template") && doc["chat_template"].is_string() && random.chance(50)) {
        doc["chat_template"] = plad::fuzz::mutateBytes(doc["chat_template"].get<std::string>(), std::min<size_t>(maxSize, 1 << 16));
        return plad::fuzz::store(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), data, maxSize);
    }
    return plad::fuzz::store(plad::fuzz::mutateJson(text, maxSize, random, dict), data, maxSize);
}
