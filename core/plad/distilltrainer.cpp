#include "plad/distilltrainer.h"

#include "common/error.h"
#include "common/fileio.h"
#include "dist/gradientallreduce.h"
#include "model/runtime.h"
#include "model/sequencescorer.h"
#include "plad/losses.h"
#include "train/optimization.h"

#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

#include <unistd.h>

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

std::string nonFiniteMessage(double value, int64_t step)
{
    return "non-finite loss at step " + std::to_string(step + 1) + " (the loss is " + (std::isnan(value) ? "NaN" : "infinite")
           + "; try a lower learning_rate or max_grad_norm); the last checkpoint is kept";
}

} // namespace

struct DistillTrainer::Loss
{
    // The loss is the sum of coefficient * ratio; on several ranks each ratio's denominator is
    // the whole batch's (the ranks sum theirs first).
    std::vector<std::pair<double, LossRatio>> terms;
    torch::Tensor value;                 // scalar, with gradients (set by combine())
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
    , mGroup(options.group ? std::move(options.group) : RankGroup::single())
{
    mOptions.validate("train");
    if (mGroup->isDistributed()) {
        if (mOptions.batchSize < mGroup->size())
            throw ConfigError("train.batch_size: " + std::to_string(mOptions.batchSize) + " cannot be shared by " + std::to_string(mGroup->size())
                              + " processes (each needs at least one example of every batch)");
        mSync = std::make_unique<GradientAllreduce>(mGroup, mStudent->parameters());
    }
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
        return tokenCrossEntropyRatio(scored.tokenLogprobs, scored.mask, weights);
    };

    if (mMethod == DistillMethod::Sft || mMethod == DistillMethod::SeqKd) {
        out.terms.emplace_back(1.0, crossEntropy([](const DistillItem &i) -> const std::vector<int64_t> & { return i.chosen; }));
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
        out.terms.emplace_back(1.0, weightedMeanRatio(perSequence, weights));
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
    out.terms.emplace_back(1.0, weightedMeanRatio(perPair, weights));
    if (mLoss.lambda > 0 && mMethod != DistillMethod::Dpo) {
        if (mLoss.ceTarget == CeTarget::Reference)
            out.terms.emplace_back(mLoss.lambda, crossEntropy([](const DistillItem &i) -> const std::vector<int64_t> & { return i.reference; }));
        else // y+ was scored in the pass above: its rows are the first B
            out.terms.emplace_back(mLoss.lambda, tokenCrossEntropyRatio(scored.tokenLogprobs.slice(0, 0, B), scored.mask.slice(0, 0, B), weights));
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
    if (!mGroup->isRoot())
        return; // one checkpoint for the run, rank 0's (every rank holds the same weights)
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
    const auto state = mGroup->isDistributed() ? loadSharedCheckpoint() : loadCheckpoint(mDirectory, *mStudent, adam(mOptimizer));
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

std::optional<nlohmann::json> DistillTrainer::loadSharedCheckpoint()
{
    // Rank 0 sends every rank the checkpoint's files, and each loads them the way a single
    // process does: a checkpoint does not depend on how many processes wrote or read it.
    nlohmann::json files = nlohmann::json::array();
    if (mGroup->isRoot() && fs::is_directory(mDirectory))
        for (const auto &entry : fs::directory_iterator(mDirectory))
            if (entry.is_regular_file())
                files.push_back(entry.path().filename().string());
    files = mGroup->broadcastJson(files);
    if (files.empty())
        return std::nullopt;
    fs::path directory = mDirectory;
    if (!mGroup->isRoot()) {
        directory = fs::temp_directory_path() / ("plad-checkpoint-rank" + std::to_string(mGroup->rank()) + "-" + std::to_string(::getpid()));
        fs::create_directories(directory);
    }
    for (const auto &file : files) {
        const std::string name = file.get<std::string>();
        const std::string bytes = mGroup->broadcast(mGroup->isRoot() ? readTextFile(mDirectory / name) : std::string());
        if (!mGroup->isRoot())
            writeFileAtomically(directory / name, bytes);
    }
    auto state = loadCheckpoint(directory, *mStudent, adam(mOptimizer));
    if (directory != mDirectory) {
        std::error_code ec;
        fs::remove_all(directory, ec);
    }
    return state;
}

std::vector<DistillItem> DistillTrainer::shareOf(const std::vector<DistillItem> &batch) const
{
    if (!mGroup->isDistributed())
        return batch;
    const int64_t n = static_cast<int64_t>(batch.size()), r = mGroup->rank(), N = mGroup->size();
    return {batch.begin() + n * r / N, batch.begin() + n * (r + 1) / N};
}

void DistillTrainer::combine(Loss &loss)
{
    std::vector<torch::Tensor> denominators;
    for (const auto &[coefficient, ratio] : loss.terms)
        denominators.push_back(ratio.denominator.detach().to(torch::kFloat64).reshape({1}));
    if (mGroup->isDistributed()) {
        auto all = torch::cat(denominators); // [terms]
        std::vector<torch::Tensor> one{all};
        mGroup->allreduceSum(one);
        for (size_t i = 0; i < denominators.size(); ++i)
            denominators[i] = all[static_cast<int64_t>(i)].to(loss.terms[i].second.numerator.scalar_type());
    }
    loss.value = torch::Tensor();
    for (size_t i = 0; i < loss.terms.size(); ++i) {
        const auto &[coefficient, ratio] = loss.terms[i];
        const auto part = mGroup->isDistributed() ? ratio.over(denominators[i]) : ratio.value();
        const auto term = coefficient == 1.0 ? part : coefficient * part;
        loss.value = loss.value.defined() ? loss.value + term : term;
    }
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
    const bool distributed = mGroup->isDistributed();
    while (mStep < untilStep) {
        if (mStopRequested || (!distributed && context && context->isCancelled()))
            return {TrainStop::Cancelled, {}};
        const auto stepStart = std::chrono::steady_clock::now();
        const double lr = learningRateAt(mOptions, mStep);
        setLearningRate(optimizer, lr);
        optimizer.zero_grad();

        DistillStep record;
        double lossSum = 0, marginSum = 0;
        int64_t tokens = 0, pairs = 0, ranked = 0;
        std::vector<DistillItem> global;
        std::vector<PairProgress> progress;
        for (int64_t micro = 0; micro < mOptions.gradAccumulation; ++micro) {
            const auto batch = nextBatch();
            Loss loss = computeLoss(shareOf(batch));
            combine(loss);
            const auto scaled = loss.value / static_cast<double>(mOptions.gradAccumulation);
            const double value = scaled.item<double>();
            if (!distributed && !std::isfinite(value))
                return {TrainStop::NonFinite, nonFiniteMessage(value, mStep)};
            if (mSync && micro + 1 == mOptions.gradAccumulation)
                mSync->prepare(); // the last micro-batch's backward sums the gradients over the ranks
            scaled.backward();
            lossSum += value;
            tokens += loss.tokens;
            pairs += loss.pairs;
            ranked += loss.ranked;
            marginSum += loss.marginSum;
            if (distributed) {
                global.insert(global.end(), batch.begin(), batch.end());
                // This rank's pairs, at their place in the global batch.
                const size_t offset = global.size() - batch.size() + static_cast<size_t>(static_cast<int64_t>(batch.size()) * mGroup->rank() / mGroup->size());
                if (progress.size() < global.size())
                    progress.resize(global.size(), PairProgress{-1, 0, 0});
                for (size_t i = 0; i < loss.progress.size(); ++i)
                    progress[offset + i] = loss.progress[i];
            } else {
                record.pairs.insert(record.pairs.end(), loss.progress.begin(), loss.progress.end());
            }
        }
        if (mSync)
            mSync->finish();
        if (distributed) {
            // One allreduce of the step's figures: the global loss and counts, every pair's
            // progress (each rank fills its own rows), and whether any rank was cancelled.
            std::vector<double> figures{lossSum, static_cast<double>(tokens), static_cast<double>(pairs), static_cast<double>(ranked), marginSum,
                                        context && context->isCancelled() ? 1.0 : 0.0};
            const size_t rates = figures.size();
            figures.resize(rates + static_cast<size_t>(mGroup->size()), 0.0);
            figures[rates + static_cast<size_t>(mGroup->rank())] =
                static_cast<double>(tokens) / std::chrono::duration<double>(std::chrono::steady_clock::now() - stepStart).count();
            const size_t head = figures.size();
            for (const auto &p : progress) {
                figures.push_back(p.pairId >= 0 ? static_cast<double>(p.pairId) + 1 : 0.0); // 0: filled by another rank
                figures.push_back(p.margin);
                figures.push_back(p.loss);
            }
            figures = mGroup->allreduceSum(figures);
            lossSum = figures[0];
            tokens = std::llround(figures[1]);
            pairs = std::llround(figures[2]);
            ranked = std::llround(figures[3]);
            marginSum = figures[4];
            mStopRequested = figures[5] > 0;
            record.rankTokensPerSecond.assign(figures.begin() + static_cast<long>(rates), figures.begin() + static_cast<long>(head));
            for (size_t i = head; i + 2 < figures.size(); i += 3)
                if (figures[i] > 0)
                    record.pairs.push_back({std::llround(figures[i]) - 1, figures[i + 1], figures[i + 2]});
            if (!std::isfinite(lossSum))
                return {TrainStop::NonFinite, nonFiniteMessage(lossSum, mStep)};
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
        if (mGroup->isRoot() && ((mOptions.evalEvery > 0 && mStep % mOptions.evalEvery == 0) || mStep == mOptions.maxSteps)) {
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
    if (mStopRequested)
        return {TrainStop::Cancelled, {}};
    return {TrainStop::Completed, {}};
}

} // namespace plad
