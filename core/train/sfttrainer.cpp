#include "train/sfttrainer.h"

#include "common/crashpoint.h"
#include "common/error.h"
#include "common/fileio.h"
#include "model/modelloader.h"
#include "model/runtime.h"
#include "model/safetensors.h"
#include "model/sequencescorer.h"
#include "train/optimization.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <numeric>
#include <random>

#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

torch::optim::AdamW &adam(const std::shared_ptr<void> &p)
{
    return *static_cast<torch::optim::AdamW *>(p.get());
}

std::vector<ScoreRequest> toRequests(const std::vector<SequencePair> &examples)
{
    std::vector<ScoreRequest> requests;
    requests.reserve(examples.size());
    for (const auto &e : examples)
        requests.push_back({e.prompt, e.response});
    return requests;
}

// Sum of the negative log-likelihood of the response tokens.
torch::Tensor responseNll(CausalLMImpl &model, const std::vector<SequencePair> &examples)
{
    const ScoredBatch scored = scoreBatch(model, toRequests(examples));
    return -scored.tokenLogprobs.sum();
}

} // namespace

SftTrainer::SftTrainer(CausalLM model, std::vector<SequencePair> train, std::vector<SequencePair> validation,
                       TrainingOptions options, fs::path directory)
    : mModel(std::move(model))
    , mTrain(std::move(train))
    , mValidation(std::move(validation))
    , mOptions(std::move(options))
    , mDirectory(std::move(directory))
{
    mOptions.validate("training");
    if (mTrain.empty())
        throw Error("no training examples: the training split is empty");
    for (size_t i = 0; i < mTrain.size(); ++i)
        if (mTrain[i].prompt.empty() || mTrain[i].response.empty())
            throw Error("training example " + std::to_string(i) + " has an empty prompt or response");

    mOptimizer = makeAdamW(*mModel, mOptions);
    shuffle();
}

void SftTrainer::shuffle()
{
    mOrder.resize(mTrain.size());
    std::iota(mOrder.begin(), mOrder.end(), 0);
    std::mt19937_64 rng(mOptions.seed * 1000003ull + static_cast<uint64_t>(mEpoch));
    std::shuffle(mOrder.begin(), mOrder.end(), rng);
    if (!mOptions.groupByLength)
        return;
    // Within windows of 50 batches, sort by length and cut into batches, then shuffle the
    // batches: each batch pads little, and the order is still a function of (seed, epoch).
    const auto batch = static_cast<size_t>(mOptions.batchSize);
    const size_t window = batch * 50;
    auto length = [this](int64_t i) {
        const auto &e = mTrain[static_cast<size_t>(i)];
        return e.prompt.size() + e.response.size();
    };
    std::vector<int64_t> grouped;
    grouped.reserve(mOrder.size());
    for (size_t start = 0; start < mOrder.size(); start += window) {
        const size_t end = std::min(mOrder.size(), start + window);
        std::vector<int64_t> slice(mOrder.begin() + static_cast<long>(start), mOrder.begin() + static_cast<long>(end));
        std::stable_sort(slice.begin(), slice.end(), [&](int64_t a, int64_t b) { return length(a) < length(b); });
        std::vector<std::vector<int64_t>> batches;
        for (size_t i = 0; i < slice.size(); i += batch)
            batches.emplace_back(slice.begin() + static_cast<long>(i), slice.begin() + static_cast<long>(std::min(slice.size(), i + batch)));
        std::shuffle(batches.begin(), batches.end(), rng);
        for (const auto &b : batches)
            grouped.insert(grouped.end(), b.begin(), b.end());
    }
    mOrder = std::move(grouped);
}

SftTrainer::Batch SftTrainer::nextBatch()
{
    Batch batch;
    for (int64_t i = 0; i < mOptions.batchSize; ++i) {
        if (mPosition >= static_cast<int64_t>(mOrder.size())) {
            ++mEpoch;
            mPosition = 0;
            shuffle();
        }
        const auto &e = mTrain[static_cast<size_t>(mOrder[static_cast<size_t>(mPosition++)])];
        batch.responseTokens += static_cast<int64_t>(e.response.size());
        batch.tokens += static_cast<int64_t>(e.prompt.size() + e.response.size());
        batch.examples.push_back(e);
    }
    return batch;
}

double SftTrainer::evaluate()
{
    if (mValidation.empty())
        return std::nan("");
    mModel->eval();
    const double loss = meanCompletionNll(*mModel, toRequests(mValidation), mOptions.batchSize, mOptions.evalBatches);
    mModel->train();
    return loss;
}

void SftTrainer::saveCheckpoint(int64_t step)
{
    const nlohmann::json state = {{"step", step}, {"epoch", mEpoch}, {"position", mPosition}, {"options", mOptions.toJson()}};
    plad::saveCheckpoint(checkpointDirectory(), *mModel, adam(mOptimizer), state);
}

int64_t SftTrainer::loadCheckpoint()
{
    const auto state = plad::loadCheckpoint(checkpointDirectory(), *mModel, adam(mOptimizer));
    if (!state)
        return 0; // stopped before its first checkpoint: the job starts again from step 0
    mEpoch = state->at("epoch").get<int64_t>();
    mPosition = state->at("position").get<int64_t>();
    shuffle();
    return state->at("step").get<int64_t>();
}

TrainingResult SftTrainer::run(JobContext *context, const std::function<void(const TrainingPoint &)> &onPoint, bool resume, int64_t stopAfter)
{
    const int64_t lastStep = stopAfter > 0 ? std::min(stopAfter, mOptions.maxSteps) : mOptions.maxSteps;
    if (mOptions.threads > 0)
        configureThreads(mOptions.threads);
    std::error_code ec;
    fs::create_directories(mDirectory, ec);
    if (ec)
        throw Error(mDirectory.string() + ": cannot create run directory: " + ec.message());

    TrainingResult result;
    int64_t step = 0;
    const fs::path metricsPath = mDirectory / "metrics.jsonl";
    if (resume) {
        step = loadCheckpoint();
        // Keep the metrics up to the checkpoint; the steps after it are trained again.
        std::ifstream in(metricsPath);
        std::string kept, line;
        while (std::getline(in, line))
            if (!line.empty() && nlohmann::json::parse(line).value("step", int64_t(0)) <= step)
                kept += line + "\n";
        writeFileAtomically(metricsPath, kept);
    } else {
        writeFileAtomically(metricsPath, "");
    }
    std::ofstream metrics(metricsPath, std::ios::app);

    mModel->train();
    auto &optimizer = adam(mOptimizer);
    const auto start = std::chrono::steady_clock::now();
    const int64_t firstStep = step;
    while (step < lastStep) {
        if (context && context->isCancelled()) {
            if (mOptions.saveCheckpoints)
                saveCheckpoint(step);
            result.stop = TrainStop::Cancelled;
            result.message = "cancelled at step " + std::to_string(step) + "; checkpoint saved, resume to continue";
            result.steps = step;
            return result;
        }
        const auto stepStart = std::chrono::steady_clock::now();
        const double lr = learningRateAt(mOptions, step);
        setLearningRate(optimizer, lr);

        std::vector<Batch> micro;
        int64_t responseTokens = 0, tokens = 0;
        for (int64_t i = 0; i < mOptions.gradAccumulation; ++i) {
            micro.push_back(nextBatch());
            responseTokens += micro.back().responseTokens;
            tokens += micro.back().tokens;
        }
        optimizer.zero_grad();
        double lossSum = 0;
        for (const auto &batch : micro) {
            // Each micro-batch's summed NLL over the step's response tokens: the gradients add up
            // to those of the mean over the whole step.
            auto loss = responseNll(*mModel, batch.examples) / static_cast<double>(responseTokens);
            const double value = loss.item<double>();
            if (!std::isfinite(value)) {
                result.stop = TrainStop::NonFinite;
                result.message = "training stopped at step " + std::to_string(step + 1) + ": the loss is "
                                 + (std::isnan(value) ? "NaN" : "infinite")
                                 + " (try a lower learning_rate or max_grad_norm); the last good checkpoint is kept in "
                                 + checkpointDirectory().string();
                result.steps = step;
                return result;
            }
            lossSum += value;
            loss.backward();
        }
        const double gradNorm = clipGradients(*mModel, mOptions.maxGradNorm);
        optimizer.step();
        ++step;

        TrainingPoint point;
        point.step = step;
        point.loss = lossSum;
        point.learningRate = lr;
        point.gradNorm = gradNorm;
        const double stepSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stepStart).count();
        point.tokensPerSecond = static_cast<double>(tokens) / stepSeconds;
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        point.etaSeconds = elapsed / static_cast<double>(step - firstStep) * static_cast<double>(lastStep - step);
        if ((mOptions.evalEvery > 0 && step % mOptions.evalEvery == 0) || step == mOptions.maxSteps) {
            const double v = evaluate();
            if (std::isfinite(v))
                point.validationLoss = v;
        }
        nlohmann::json line = {{"step", point.step}, {"loss", point.loss}, {"lr", point.learningRate},
                               {"grad_norm", point.gradNorm}, {"tokens_per_second", point.tokensPerSecond}};
        if (point.validationLoss)
            line["validation_loss"] = *point.validationLoss;
        metrics << line.dump() << '\n' << std::flush;
        crashPoint("sft.step");
        result.history.push_back(point);
        if (point.validationLoss)
            result.validationLoss = point.validationLoss;
        if (onPoint)
            onPoint(point);
        if (context)
            context->report({"train", step, lastStep, "steps", point.tokensPerSecond, point.etaSeconds}, step == lastStep);
        if (mOptions.saveCheckpoints
            && ((mOptions.checkpointEvery > 0 && step % mOptions.checkpointEvery == 0) || step == mOptions.maxSteps || step == lastStep))
            saveCheckpoint(step);
    }
    mModel->eval();
    result.steps = step;
    result.stop = TrainStop::Completed;
    if (step < mOptions.maxSteps)
        result.message = "stopped at step " + std::to_string(step) + " of " + std::to_string(mOptions.maxSteps)
                         + " as train.stop_after asks; raise it (or remove it) and resume to continue";
    return result;
}

} // namespace plad
