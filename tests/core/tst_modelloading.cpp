// Loading models from bad directories: every failure is a clear plad::Error, never a crash.
#include "common/error.h"
#include "model/languagemodel.h"
#include "model/modelconfig.h"
#include "model/safetensors.h"
#include "testsupport.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

#include <torch/torch.h>

using namespace plad;

class TestModelLoading : public QObject
{
    Q_OBJECT

private:
    QTemporaryDir mTmp;
    int mCounter = 0;

    std::filesystem::path freshCopy(const std::string &model)
    {
        const auto dir = std::filesystem::path(mTmp.path().toStdString()) / ("case" + std::to_string(mCounter++));
        std::filesystem::create_directories(dir);
        return test::copyModel(model, dir);
    }

    static nlohmann::json readJson(const std::filesystem::path &p) { return nlohmann::json::parse(std::ifstream(p)); }
    static void writeJson(const std::filesystem::path &p, const nlohmann::json &j) { test::writeBytes(p, j.dump(2)); }

    // Rewrites a checkpoint's tensors through `edit` (name -> tensor map).
    template<typename F>
    static void editTensors(const std::filesystem::path &dir, F edit)
    {
        SafetensorsFile file(dir / "model.safetensors");
        std::map<std::string, torch::Tensor> tensors;
        for (const auto &e : file.entries())
            tensors[e.name] = file.read(e.name);
        edit(tensors);
        std::vector<std::pair<std::string, torch::Tensor>> list(tensors.begin(), tensors.end());
        writeSafetensors(dir / "model.safetensors", list);
    }

private Q_SLOTS:
    void emptyDirectory()
    {
        const auto dir = std::filesystem::path(mTmp.path().toStdString()) / "empty";
        std::filesystem::create_directories(dir);
        test::expectError([&] { LanguageModel::load(dir); }, "no config.json", dir.string());
    }

    void missingDirectoryAndFile()
    {
        test::expectError([&] { LanguageModel::load("/nonexistent/model"); }, "no such model directory");
        const auto dir = freshCopy("gpt2");
        test::expectError([&] { LanguageModel::load(dir / "config.json"); }, "expected a model directory");
    }

    void missingWeights()
    {
        const auto dir = freshCopy("gpt2");
        std::filesystem::remove(dir / "model.safetensors");
        test::expectError([&] { LanguageModel::load(dir); }, "no model.safetensors");
    }

    void pickleCheckpointIsRefused()
    {
        const auto dir = freshCopy("gpt2");
        std::filesystem::remove(dir / "model.safetensors");
        test::writeBytes(dir / "pytorch_model.bin", std::string("\x80\x02}q\x00.", 6));
        test::expectError([&] { LanguageModel::load(dir); }, "pytorch_model.bin, a PyTorch pickle file");
        test::expectError([&] { LanguageModel::load(dir); }, "can execute arbitrary code");
    }

    void malformedConfig_data()
    {
        QTest::addColumn<QString>("config");
        QTest::addColumn<QString>("message");
        QTest::newRow("syntax") << R"({"model_type": "gpt2", "n_embd": 48,,})" << "config.json:1:";
        QTest::newRow("array") << "[1, 2]" << "expected a JSON object";
        QTest::newRow("no model_type") << R"({"vocab_size": 10})" << "field \"model_type\" is required";
        QTest::newRow("unsupported") << R"({"model_type": "mamba"})" << "model_type \"mamba\" is not supported; supported types: gpt2, llama, mistral, qwen2, qwen3";
        QTest::newRow("missing field") << R"({"model_type": "gpt2", "vocab_size": 320, "n_layer": 2, "n_head": 4})"
                                       << "field \"n_embd\" is required";
        QTest::newRow("wrong type") << R"({"model_type": "gpt2", "vocab_size": "many", "n_embd": 48, "n_layer": 2, "n_head": 4})"
                                    << "field \"vocab_size\" must be a positive integer, found \"many\"";
        QTest::newRow("negative") << R"({"model_type": "llama", "vocab_size": 10, "hidden_size": -64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2})"
                                  << "field \"hidden_size\" must be a positive integer";
        QTest::newRow("heads do not divide") << R"({"model_type": "gpt2", "vocab_size": 320, "n_embd": 50, "n_layer": 2, "n_head": 4})"
                                             << "must be divisible by n_head";
        QTest::newRow("kv heads") << R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 3})"
                                  << "num_key_value_heads";
        QTest::newRow("activation") << R"({"model_type": "gpt2", "vocab_size": 320, "n_embd": 48, "n_layer": 2, "n_head": 4, "activation_function": "mish"})"
                                    << "activation \"mish\" is not supported";
        QTest::newRow("rope type") << R"({"model_type": "llama", "vocab_size": 10, "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4, "rope_scaling": {"rope_type": "yarn", "factor": 4}})"
                                   << "type \"yarn\" is not supported";
    }
    void malformedConfig()
    {
        QFETCH(QString, config);
        QFETCH(QString, message);
        const auto dir = freshCopy("gpt2");
        test::writeBytes(dir / "config.json", config.toStdString());
        test::expectError([&] { LanguageModel::load(dir); }, message.toStdString(), "config.json");
    }

    void missingTensorIsNamed()
    {
        const auto dir = freshCopy("llama");
        editTensors(dir, [](auto &t) { t.erase("model.layers.1.mlp.up_proj.weight"); });
        test::expectError([&] { LanguageModel::load(dir); }, "tensor \"model.layers.1.mlp.up_proj.weight\" is missing");
    }

    void wrongShapeIsNamed()
    {
        const auto dir = freshCopy("qwen2");
        editTensors(dir, [](auto &t) { t["model.layers.0.self_attn.k_proj.weight"] = torch::zeros({64, 64}); });
        test::expectError([&] { LanguageModel::load(dir); },
                          "tensor \"model.layers.0.self_attn.k_proj.weight\" has shape [64, 64] but config.json implies [32, 64]",
                          "model.safetensors");
    }

    void configDisagreeingWithWeights()
    {
        const auto dir = freshCopy("gpt2");
        auto config = readJson(dir / "config.json");
        config["n_layer"] = 3;
        writeJson(dir / "config.json", config);
        test::expectError([&] { LanguageModel::load(dir); }, "tensor \"transformer.h.2.ln_1.weight\" is missing");
    }

    void wrongArchitectureIsExplained()
    {
        const auto dir = freshCopy("llama");
        auto config = readJson(test::modelDir("gpt2") / "config.json");
        writeJson(dir / "config.json", config);
        test::expectError([&] { LanguageModel::load(dir); }, "is config.json's model_type right?");
    }

    void integerWeightIsRejected()
    {
        const auto dir = freshCopy("gpt2");
        editTensors(dir, [](auto &t) { t["ln_f.bias"] = torch::zeros({48}, torch::kInt32); });
        test::expectError([&] { LanguageModel::load(dir); }, "tensor \"ln_f.bias\" is stored as I32");
    }

    void corruptWeightsFile()
    {
        const auto dir = freshCopy("gpt2");
        std::filesystem::resize_file(dir / "model.safetensors", 100000); // truncated inside the data
        test::expectError([&] { LanguageModel::load(dir); }, "run past the data section", "model.safetensors");
    }

    void unusedTensorsAreReported()
    {
        const auto dir = freshCopy("gpt2");
        editTensors(dir, [](auto &t) { t["h.0.extra_adapter.weight"] = torch::zeros({2}); });
        const auto summary = LanguageModel::load(dir).summary();
        QCOMPARE(summary.unexpectedTensors, std::vector<std::string>{"h.0.extra_adapter.weight"});
    }

    void gpt2NamesWithAndWithoutPrefix()
    {
        // The fixture stores bare names (h.0...); a transformers save uses transformer.h.0...
        const auto dir = freshCopy("gpt2");
        editTensors(dir, [](auto &t) {
            std::map<std::string, torch::Tensor> renamed;
            for (auto &[k, v] : t)
                renamed["transformer." + k] = v;
            t = renamed;
        });
        auto prefixed = LanguageModel::load(dir);
        auto bare = LanguageModel::load(test::modelDir("gpt2"));
        QCOMPARE(prefixed.logits({1, 2, 3}), bare.logits({1, 2, 3}));
    }

    void badTokenIdsAndContext()
    {
        auto lm = LanguageModel::load(test::modelDir("gpt2"));
        test::expectError([&] { lm.logits({1, 320}); }, "token id 320 is outside the model's vocabulary (0..319)");
        test::expectError([&] { lm.score({{{}, {1}}}); }, "the prompt is empty");
        test::expectError([&] { lm.score({{{1}, {}}}); }, "the completion is empty");
        std::vector<int64_t> longPrompt(70, 5);
        test::expectError([&] { lm.logits(longPrompt); }, "the model's context length is 64 tokens");
        GenerationOptions options;
        options.maxNewTokens = 10;
        test::expectError([&] { lm.generate({std::vector<int64_t>(60, 5)}, options); }, "context length is 64");
        options.sampling.greedy = false;
        options.sampling.topP = 1.5;
        test::expectError([&] { lm.generate({{1}}, options); }, "top_p: must be in (0, 1]");
        options.sampling.topP = 1.0;
        options.sampling.temperature = 0;
        test::expectError([&] { lm.generate({{1}}, options); }, "temperature: must be positive");
    }

    void unknownDevice()
    {
        test::expectError([&] { LanguageModel::load(test::modelDir("gpt2"), "tpu"); }, "unknown device \"tpu\"");
        test::expectError([&] { LanguageModel::load(test::modelDir("gpt2"), "cpu", "int8"); }, "unknown dtype \"int8\"");
    }
};

QTEST_GUILESS_MAIN(TestModelLoading)
#include "tst_modelloading.moc"
