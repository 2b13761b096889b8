#include "plad/distilltrainer.h"

#include "common/error.h"
#include "model/runtime.h"
#include "model/sequencescorer.h"
#include "plad/losses.h"
#include "train/optimization.h"

#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

namespace plad {

namespace fs = std::filesystem;

namespace {

torch::optim::AdamW &adam(const std::shared_ptr<void> &p)
{
    return *static_cast<torch::optim::AdamW *>(p.get());
}

int64_t tokensOf(const std::vector<int64_t> &prompt, const std::vector<int64_t> &completion)
{
    return static_cast<int64_t>(prompt.size() + completion.size());
}

} // namespace

struct DistillTrainer::Loss
{
    torch::Tensor value;                 // scalar, with gradients
    int64_t tokens = 0;                  // tokens run through the student
    int64_t pairs = 0, ranked = 0;       // pair methods: pairs and pairs with s(y+) > s(y-)
    double marginSum = 0;
    std::vector<PairProgress> progress;
};

DistillTrainer::DistillTrainer(DistillTrainerOptions options)
    : mStudent(std::move(options.student))
    , mTeacher(std::move(options.teacher))
    , mMethod(options.method)
    , mLoss(std::move(options.loss))
    , mOptions(std::move(options.training))
    , mDirectory(std::move(options.checkpointDirectory))
    , mLoadItems(std::move(options.loadItems))
    , mValidation(std::move(options.validation))
{
    mOptions.validate("train");
    if (mMethod == DistillMethod::WordKd) {
        if (!mTeacher)
            throw Error("word-kd needs a local teacher model");
        if (mTeacher->config().vocabSize != mStudent->config().vocabSize)
            throw Error("word-kd needs one vocabulary: the teacher's has " + std::to_string(mTeacher->config().vocabSize)
                        + " entries, the student's " + std::to_string(mStudent->config().vocabSize)
                        + "; use seqkd or plad, which need only the teacher's text");
        mTeacher->eval();
        for (auto &p : mTeacher->parameters())
            p.set_requires_grad(false);
    }
    mOptimizer = makeAdamW(*mStudent, mOptions);
    startEpoch();
}

DistillTrainer::~DistillTrainer() = default;

void DistillTrainer::startEpoch()
{
    mItems = mLoadItems();
    if (mItems.empty())
        throw Error("nothing to train on: every pair was discarded or none was generated (check the labeling settings and annotations)");
    mOrder.resize(mItems.size());
    std::iota(mOrder.begin(), mOrder.end(), size_t{0});
    std::mt19937_64 rng(mOptions.seed * 1000003ull + static_cast<uint64_t>(mEpoch));
    std::shuffle(mOrder.begin(), mOrder.end(), rng);
}

std::vector<DistillItem> DistillTrainer::nextBatch()
{
    // Copies: an epoch that ends inside the batch reloads (replaces) the items.
    std::vector<DistillItem> batch;
    for (int64_t i = 0; i < mOptions.batchSize; ++i) {
        if (mPosition >= static_cast<int64_t>(mOrder.size())) {
            ++mEpoch;
            mPosition = 0;
            startEpoch();
        }
        batch.push_back(mItems[mOrder[static_cast<size_t>(mPosition++)]]);
    }
    return batch;
}

DistillTrainer::Loss DistillTrainer::computeLoss(const std::vector<DistillItem> &batch)
{
    Loss out;
    const auto B = static_cast<int64_t>(batch.size());
    std::vector<float> weightValues;
    for (const auto &item : batch)
        weightValues.push_back(static_cast<float>(item.weight));
    const auto weights = torch::tensor(weightValues);

    // Mean cross-entropy per token over targets chosen by `pick`.
    auto crossEntropy = [&](auto pick) {
        std::vector<ScoreRequest> requests;
        for (const auto &item : batch) {
            const auto &target = pick(item);
            requests.push_back({item.prompt, target});
            out.tokens += tokensOf(item.prompt, target);
        }
        const ScoredBatch scored = scoreBatch(*mStudent, requests);
        return tokenCrossEntropy(scored.tokenLogprobs, scored.mask, weights);
    };

    if (mMethod == DistillMethod::Sft || mMethod == DistillMethod::SeqKd) {
        out.value = crossEntropy([](const DistillItem &i) -> const std::vector<int64_t> & { return i.chosen; });
        return out;
    }
    if (mMethod == DistillMethod::WordKd) {
        std::vector<ScoreRequest> requests;
        for (const auto &item : batch) {
            requests.push_back({item.prompt, item.chosen});
            out.tokens += tokensOf(item.prompt, item.chosen);
        }
        const ScoredBatch student = scoreBatch(*mStudent, requests, true);
        ScoredBatch teacher;
        {
            torch::NoGradGuard noGrad;
            teacher = scoreBatch(*mTeacher, requests, true);
        }
        const bool reverse = mLoss.kl == KlDirection::Reverse;
        const auto perSequence = tokenKlLoss(student.logits, teacher.logits, student.mask, mLoss.temperature, reverse);
        out.value = weightedMean(perSequence, weights);
        return out;
    }

    // Pair methods: y+ and y- of every pair in one forward pass.
    std::vector<ScoreRequest> requests;
    for (const auto &item : batch) {
        requests.push_back({item.prompt, item.chosen});
        out.tokens += tokensOf(item.prompt, item.chosen);
    }
    for (const auto &item : batch) {
        requests.push_back({item.prompt, item.rejected});
        out.tokens += tokensOf(item.prompt, item.rejected);
    }
    const ScoredBatch scored = scoreBatch(*mStudent, requests);
    const auto scores = mLoss.score == ScoreKind::Mean ? scored.mean : scored.sum; // [2B]
    const auto positive = scores.slice(0, 0, B), negative = scores.slice(0, B, 2 * B);
    torch::Tensor perPair;
    if (mMethod == DistillMethod::Plad) {
        perPair = rankingHingeLoss(positive, negative, mLoss.beta);
    } else if (mMethod == DistillMethod::PladLogistic) {
        perPair = rankingLogisticLoss(positive, negative, mLoss.gamma, mLoss.beta);
    } else {
        std::vector<float> refPos, refNeg;
        for (const auto &item : batch) {
            refPos.push_back(static_cast<float>(item.referenceChosen));
            refNeg.push_back(static_cast<float>(item.referenceRejected));
        }
        perPair = dpoLoss(scored.sum.slice(0, 0, B), scored.sum.slice(0, B, 2 * B), torch::tensor(refPos), torch::tensor(refNeg),
                          mLoss.dpoBeta);
    }
    out.value = weightedMean(perPair, weights);
    if (mLoss.lambda > 0 && mMethod != DistillMethod::Dpo) {
        torch::Tensor ce;
        if (mLoss.ceTarget == CeTarget::Reference)
            ce = crossEntropy([](const DistillItem &i) -> const std::vector<int64_t> & { return i.reference; });
        else // y+ was scored in the pass above: its rows are the first B
            ce = tokenCrossEntropy(scored.tokenLogprobs.slice(0, 0, B), scored.mask.slice(0, 0, B), weights);
        out.value = out.value + mLoss.lambda * ce;
    }

    const auto stats = pairBatchStats(positive.detach(), negative.detach());
    out.pairs = B;
    out.ranked = std::llround(stats.rankingAccuracy * static_cast<double>(B));
    out.marginSum = stats.meanMargin * static_cast<double>(B);
    const auto margins = (positive - negative).detach().to(torch::kFloat64).contiguous();
    const auto losses = perPair.detach().to(torch::kFloat64).contiguous();
    for (int64_t b = 0; b < B; ++b)
        out.progress.push_back({batch[static_cast<size_t>(b)].pairId, margins[b].item<double>(), losses[b].item<double>()});
    return out;
}

double DistillTrainer::validationLoss()
{
    if (mValidation.empty())
        return std::nan("");
    std::vector<ScoreRequest> requests;
    for (const auto &item : mValidation)
        requests.push_back({item.prompt, item.chosen});
    mStudent->eval();
    const double loss = meanCompletionNll(*mStudent, requests, mOptions.batchSize, mOptions.evalBatches);
    mStudent->train();
    return loss;
}

void DistillTrainer::checkpoint()
{
    const nlohmann::json state = {{"step", mStep}, {"epoch", mEpoch}, {"position", mPosition}, {"options", mOptions.toJson()},
                                  {"method", toString(mMethod)}};
    saveCheckpoint(mDirectory, *mStudent, adam(mOptimizer), state);
    if (mOnCheckpoint)
        mOnCheckpoint(mStep);
}

void DistillTrainer::newEpoch()
{
    ++mEpoch;
    mPosition = 0;
    startEpoch();
}

int64_t DistillTrainer::restore()
{
    const auto state = loadCheckpoint(mDirectory, *mStudent, adam(mOptimizer));
    if (!state)
        return 0;
    mStep = state->at("step").get<int64_t>();
    mEpoch = state->at("epoch").get<int64_t>();
    mPosition = state->at("position").get<int64_t>();
    startEpoch();
    if (mPosition > static_cast<int64_t>(mOrder.size()))
        mPosition = static_cast<int64_t>(mOrder.size()); // pairs discarded since: the epoch ends sooner
    return mStep;
}

TrainOutcome DistillTrainer::train(int64_t untilStep, JobContext *context, const std::function<void(const DistillStep &)> &onStep)
{
    if (mOptions.threads > 0)
        configureThreads(mOptions.threads);
    untilStep = std::min(untilStep, mOptions.maxSteps);
    mStudent->train();
    auto &optimizer = adam(mOptimizer);
    const auto start = std::chrono::steady_clock::now();
    const int64_t firstStep = mStep;
    while (mStep < untilStep) {
        if (context && context->isCancelled())
            return {TrainStop::Cancelled, {}};
        const auto stepStart = std::chrono::steady_clock::now();
        const double lr = learningRateAt(mOptions, mStep);
        setLearningRate(optimizer, lr);
        optimizer.zero_grad();

        DistillStep record;
        double lossSum = 0, marginSum = 0;
        int64_t tokens = 0, pairs = 0, ranked = 0;
        for (int64_t micro = 0; micro < mOptions.gradAccumulation; ++micro) {
            Loss loss = computeLoss(nextBatch());
            const auto scaled = loss.value / static_cast<double>(mOptions.gradAccumulation);
            const double value = scaled.item<double>();
            if (!std::isfinite(value))
                return {TrainStop::NonFinite, "non-finite loss at step " + std::to_string(mStep + 1) + " (the loss is "
                                                  + (std::isnan(value) ? "NaN" : "infinite")
                                                  + "; try a lower learning_rate or max_grad_norm); the last checkpoint is kept"};
            scaled.backward();
            lossSum += value;
            tokens += loss.tokens;
            pairs += loss.pairs;
            ranked += loss.ranked;
            marginSum += loss.marginSum;
            record.pairs.insert(record.pairs.end(), loss.progress.begin(), loss.progress.end());
        }
        const double gradNorm = clipGradients(*mStudent, mOptions.maxGradNorm);
        optimizer.step();
        ++mStep;

        auto &point = record.point;
        point.step = mStep;
        point.loss = lossSum;
        point.learningRate = lr;
        point.gradNorm = gradNorm;
        const auto now = std::chrono::steady_clock::now();
        point.tokensPerSecond = static_cast<double>(tokens) / std::chrono::duration<double>(now - stepStart).count();
        point.etaSeconds = std::chrono::duration<double>(now - start).count() / static_cast<double>(mStep - firstStep)
                           * static_cast<double>(mOptions.maxSteps - mStep);
        if (pairs > 0) {
            record.rankingAccuracy = static_cast<double>(ranked) / static_cast<double>(pairs);
            record.meanMargin = marginSum / static_cast<double>(pairs);
        }
        if ((mOptions.evalEvery > 0 && mStep % mOptions.evalEvery == 0) || mStep == mOptions.maxSteps) {
            const double v = validationLoss();
            if (std::isfinite(v))
                point.validationLoss = v;
        }
        if (onStep)
            onStep(record);
        if (context)
            context->report({"train", mStep, mOptions.maxSteps, "steps", point.tokensPerSecond, point.etaSeconds}, mStep == mOptions.maxSteps);
        if (mOptions.checkpointEvery > 0 && mStep % mOptions.checkpointEvery == 0)
            checkpoint();
    }
    return {TrainStop::Completed, {}};
}

} // namespace plad
