#include "eval/judge.h"

#include "eval/rouge.h"

#include <cmath>

namespace plad {

namespace {

class RougeJudge : public Judge
{
public:
    std::string name() const override { return "judge:rouge-l"; }
    std::vector<JudgeVerdict> judge(const std::vector<JudgeCase> &cases, JobContext *) override
    {
        std::vector<JudgeVerdict> out;
        for (const auto &c : cases) {
            JudgeVerdict v;
            v.firstScore = mScorer.score(c.reference, c.first).rougeL.f1;
            v.secondScore = mScorer.score(c.reference, c.second).rougeL.f1;
            const double diff = v.firstScore - v.secondScore;
            v.preferred = std::abs(diff) <= 1e-12 ? 0 : (diff > 0 ? 1 : -1);
            out.push_back(v);
        }
        return out;
    }

private:
    RougeScorer mScorer{false};
};

} // namespace

std::unique_ptr<Judge> makeRougeJudge()
{
    return std::make_unique<RougeJudge>();
}

JudgeVerdict combineSwapped(double firstWinsInOrder1, double firstWinsInOrder2)
{
    JudgeVerdict v;
    v.firstScore = (firstWinsInOrder1 + firstWinsInOrder2) / 2;
    v.secondScore = 1.0 - v.firstScore;
    if (firstWinsInOrder1 > 0.5 && firstWinsInOrder2 > 0.5)
        v.preferred = 1;
    else if (firstWinsInOrder1 < 0.5 && firstWinsInOrder2 < 0.5)
        v.preferred = -1;
    return v;
}

} // namespace plad
