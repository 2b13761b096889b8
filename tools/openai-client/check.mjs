// Drives `plad serve` with the official `openai` npm client, the way applications talk to it:
// model listing, chat completions (system prompt, several turns) with and without streaming,
// chat log-probabilities, legacy completions with log-probabilities and streaming, n, stop,
// seed, a wrong-typed field (a 400 the client raises as BadRequestError) and an API key.
//
//   cd tools/openai-client && npm install && node check.mjs ../../build/release/app/plad MODEL_DIR
//
// Prints one line per check and a JSON summary; exits 1 when a check fails.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const [plad, modelDir] = process.argv.slice(2);
if (!plad || !modelDir) {
  console.error('usage: node check.mjs PATH_TO_PLAD MODEL_DIR');
  process.exit(2);
}

function startServer(extraArgs = [], env = process.env) {
  const child = spawn(plad, ['--threads', '1', 'serve', modelDir, '--port', '0', ...extraArgs],
                      { stdio: ['ignore', 'pipe', 'inherit'], env });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve({ child, url: JSON.parse(line).listening }));
    child.once('exit', (code) => reject(new Error(`plad serve exited with ${code} before listening`)));
  });
}

const results = [];
async function check(name, body) {
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`ok   ${name}`);
  } catch (error) {
    results.push({ name, ok: false, error: String(error && error.message || error) });
    console.log(`FAIL ${name}: ${error && error.stack || error}`);
  }
}

const conversation = [
  { role: 'system', content: 'You write one-line synopses of software packages.' },
  { role: 'user', content: 'A library for reading and writing PNG images.' },
  { role: 'assistant', content: 'PNG library' },
  { role: 'user', content: 'A command-line tool to download files over HTTP and FTP.' },
];

const { child, url } = await startServer();
const client = new OpenAI({ baseURL: url, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
let modelId = '';

await check('models.list names the served model', async () => {
  const page = await client.models.list();
  assert.ok(page.data.length >= 1);
  modelId = page.data[0].id;
  assert.equal(typeof modelId, 'string');
});

let whole = '';
await check('chat.completions.create: system prompt and several turns, greedy', async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: conversation, temperature: 0,
                                                   max_completion_tokens: 12 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  whole = r.choices[0].message.content;
});

await check('chat stream: the deltas add up to the same text, then a finish_reason', async () => {
  const stream = await client.chat.completions.create({ model: modelId, messages: conversation, temperature: 0,
                                                        max_completion_tokens: 12, stream: true });
  let text = '';
  let finish = null;
  let chunks = 0;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    chunks += 1;
    const choice = chunk.choices[0];
    if (choice && choice.delta && choice.delta.content) text += choice.delta.content;
    if (choice && choice.finish_reason) finish = choice.finish_reason;
  }
  assert.ok(chunks >= 2, `only ${chunks} chunks`);
  assert.equal(text, whole);
  assert.ok(['stop', 'length'].includes(finish));
});

await check('chat stream helper (client.chat.completions.stream) assembles the message', async () => {
  const runner = client.chat.completions.stream({ model: modelId, messages: conversation, temperature: 0,
                                                  max_completion_tokens: 12 });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, whole);
});

await check('chat logprobs with top_logprobs', async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: conversation, temperature: 0,
                                                   max_completion_tokens: 6, logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs.content;
  assert.ok(content.length >= 1);
  for (const entry of content) {
    assert.equal(typeof entry.token, 'string');
    assert.ok(entry.logprob <= 0);
    assert.ok(Array.isArray(entry.bytes));
    assert.equal(entry.top_logprobs.length, 3);
    // Greedy decoding picks the most likely token.
    assert.ok(entry.logprob >= entry.top_logprobs[0].logprob - 1e-5);
  }
});

await check('n = 2 samples with a seed are reproducible', async () => {
  const ask = () => client.chat.completions.create({ model: modelId, messages: conversation, temperature: 1,
                                                     seed: 7, n: 2, max_tokens: 8 });
  const [a, b] = [await ask(), await ask()];
  assert.equal(a.choices.length, 2);
  assert.deepEqual(a.choices.map((c) => c.index), [0, 1]);
  assert.deepEqual(a.choices.map((c) => c.message.content), b.choices.map((c) => c.message.content));
});

await check('stop strings end the text before them', async () => {
  const r = await client.chat.completions.create({ model: modelId, messages: conversation, temperature: 0,
                                                   max_completion_tokens: 12, stop: [' '] });
  assert.ok(!r.choices[0].message.content.includes(' '));
});

await check('completions.create with logprobs', async () => {
  const r = await client.completions.create({ model: modelId, prompt: 'A tool to compress files.\nSummary:',
                                              temperature: 0, max_tokens: 6, logprobs: 2 });
  assert.equal(r.object, 'text_completion');
  const lp = r.choices[0].logprobs;
  assert.equal(lp.tokens.length, lp.token_logprobs.length);
  assert.equal(lp.top_logprobs.length, lp.tokens.length);
  assert.equal(lp.tokens.join(''), r.choices[0].text);
});

await check('completions stream', async () => {
  const prompt = 'A tool to compress files.\nSummary:';
  const r = await client.completions.create({ model: modelId, prompt, temperature: 0, max_tokens: 6 });
  const stream = await client.completions.create({ model: modelId, prompt, temperature: 0, max_tokens: 6,
                                                   stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    text += chunk.choices[0].text;
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  assert.equal(text, r.choices[0].text);
  assert.ok(['stop', 'length'].includes(finish));
});

await check('a wrong-typed field is a 400 the client raises as BadRequestError', async () => {
  await assert.rejects(client.chat.completions.create({ model: modelId, messages: conversation, max_tokens: 'six' }),
                       (error) => error instanceof OpenAI.BadRequestError && /max_tokens/.test(error.message));
});

child.kill('SIGTERM');

// A server that requires a key: a wrong key is a 401 (AuthenticationError), the right one works.
const keyed = await startServer(['--api-key-env', 'PLAD_CHECK_KEY'], { ...process.env, PLAD_CHECK_KEY: 'sesame' });
await check('--api-key-env: a wrong key is an AuthenticationError, the right one answers', async () => {
  const wrong = new OpenAI({ baseURL: keyed.url, apiKey: 'wrong', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (error) => error instanceof OpenAI.AuthenticationError);
  const right = new OpenAI({ baseURL: keyed.url, apiKey: 'sesame', maxRetries: 0 });
  assert.ok((await right.models.list()).data.length >= 1);
});
keyed.child.kill('SIGTERM');

const failed = results.filter((r) => !r.ok);
console.log(JSON.stringify({ client: 'openai', checks: results.length, failed: failed.length }));
process.exit(failed.length ? 1 : 0);
