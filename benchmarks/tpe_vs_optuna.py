#!/usr/bin/python3
"""Optuna 3.1's TPESampler time per proposal (the notebook's two parameters) with N finished trials
in memory; the C++ counterpart is build-*/benchmarks/tpe_benchmark --benchmark_filter=TpeProposal.

    /usr/bin/python3 benchmarks/tpe_vs_optuna.py [N=200] [repeats=50]

Prints the median time of (a) study.ask() + both suggest_float calls, what a trial costs in Optuna,
and (b) the two TPESampler.sample_independent calls alone, what normlab's benchmark measures.
"""
import math
import statistics
import sys
import time

import optuna
from optuna.distributions import FloatDistribution
from optuna.samplers import TPESampler
from optuna.trial import TrialState

optuna.logging.set_verbosity(optuna.logging.ERROR)

N = int(sys.argv[1]) if len(sys.argv) > 1 else 200
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 50
MEAN = FloatDistribution(-3, 3)
STD = FloatDistribution(0.1, 2, log=True)


def objective(mean, std):
    return -((mean - 0.13) ** 2) - (math.log(std) - math.log(0.31)) ** 2


# N finished trials proposed by TPE itself (seed 1998), as in the notebook's run.
study = optuna.create_study(direction='maximize', sampler=TPESampler(seed=1998))
for _ in range(N):
    trial = study.ask()
    mean, std = trial.suggest_float('mean', -3, 3), trial.suggest_float('std', 0.1, 2, log=True)
    study.tell(trial, objective(mean, std))

sampler = TPESampler(seed=7)
study.sampler = sampler
ask = []
for _ in range(REPEATS):
    t0 = time.perf_counter()
    trial = study.ask()
    trial.suggest_float('mean', -3, 3)
    trial.suggest_float('std', 0.1, 2, log=True)
    ask.append(time.perf_counter() - t0)
    study.tell(trial, state=TrialState.FAIL)  # FAIL trials are not observations: N stays N

frozen = study.ask()
frozen_trial = study._storage.get_trial(frozen._trial_id)
core = []
for _ in range(REPEATS):
    t0 = time.perf_counter()
    sampler.sample_independent(study, frozen_trial, 'mean', MEAN)
    sampler.sample_independent(study, frozen_trial, 'std', STD)
    core.append(time.perf_counter() - t0)

print('optuna %s, %d finished trials, median of %d' % (optuna.__version__, N, REPEATS))
print('ask + 2 suggest_float:          %.3f ms per proposal' % (1e3 * statistics.median(ask)))
print('2 x TPESampler.sample_independent: %.3f ms per proposal' % (1e3 * statistics.median(core)))
