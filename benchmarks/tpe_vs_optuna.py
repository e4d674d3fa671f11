#!/usr/bin/python3
"""Optuna 3.1's time per trial (TPESampler, the notebook's two parameters) on a study of N finished
trials, in memory or in an SQLite file. The C++ counterparts are
build-*/benchmarks/tpe_benchmark --benchmark_filter=TpeProposal (one proposal, both parameters) and
build-*/benchmarks/study_benchmark (ask + 2 suggests + tell on a Study); benchmarks/search_speed_vs_optuna.sh
runs them side by side.

    /usr/bin/python3 benchmarks/tpe_vs_optuna.py [N=200] [repeats=50] [--storage memory|sqlite] [--db PATH]

Prints the median time of
 (a) study.ask() + both suggest_float calls + study.tell(): what a trial costs in Optuna;
 (b) study.ask() + both suggest_float calls, without the tell;
 (c) the two TPESampler.sample_independent calls alone (memory only).
Times are wall-clock (time.perf_counter); (a) also in CPU time of this thread (time.thread_time).
The measured trials are told FAIL, so that the study keeps N finished trials (FAIL trials are not TPE
observations) and every repeat sees the same study; normlab's benchmarks do the same. The last line,
`per_trial_ms <value>`, and `per_trial_cpu_ms <value>` are what search_speed_vs_optuna.sh reads.
"""
import argparse
import math
import os
import statistics
import tempfile
import time

import optuna
from optuna.distributions import FloatDistribution
from optuna.samplers import TPESampler
from optuna.trial import TrialState

optuna.logging.set_verbosity(optuna.logging.ERROR)

parser = argparse.ArgumentParser()
parser.add_argument('n', nargs='?', type=int, default=200)
parser.add_argument('repeats', nargs='?', type=int, default=50)
parser.add_argument('--storage', choices=['memory', 'sqlite'], default='memory')
parser.add_argument('--db', help='SQLite file to use (default: a fresh temporary file)')
args = parser.parse_args()
N, REPEATS = args.n, args.repeats
MEAN = FloatDistribution(-3, 3)
STD = FloatDistribution(0.1, 2, log=True)


def objective(mean, std):
    return -((mean - 0.13) ** 2) - (math.log(std) - math.log(0.31)) ** 2


tmpdir = None
storage = None
if args.storage == 'sqlite':
    path = args.db
    if path is None:
        tmpdir = tempfile.TemporaryDirectory(prefix='tpe_vs_optuna_')
        path = os.path.join(tmpdir.name, 'study.db')
    elif os.path.exists(path):
        os.remove(path)
    storage = 'sqlite:///' + os.path.abspath(path)

# N finished trials proposed by TPE itself (seed 1998), as in the notebook's run.
study = optuna.create_study(direction='maximize', sampler=TPESampler(seed=1998), storage=storage)
for _ in range(N):
    trial = study.ask()
    mean, std = trial.suggest_float('mean', -3, 3), trial.suggest_float('std', 0.1, 2, log=True)
    study.tell(trial, objective(mean, std))

sampler = TPESampler(seed=7)
study.sampler = sampler
per_trial, ask_only, per_trial_cpu = [], [], []
for _ in range(REPEATS):
    c0 = time.thread_time()
    t0 = time.perf_counter()
    trial = study.ask()
    trial.suggest_float('mean', -3, 3)
    trial.suggest_float('std', 0.1, 2, log=True)
    t1 = time.perf_counter()
    study.tell(trial, state=TrialState.FAIL)  # FAIL trials are not observations: N stays N
    t2 = time.perf_counter()
    per_trial_cpu.append(time.thread_time() - c0)
    per_trial.append(t2 - t0)
    ask_only.append(t1 - t0)

print('optuna %s, %s storage, %d finished trials, median of %d' % (optuna.__version__, args.storage, N, REPEATS))
print('ask + 2 suggest_float + tell:       %.3f ms per trial (CPU %.3f ms)'
      % (1e3 * statistics.median(per_trial), 1e3 * statistics.median(per_trial_cpu)))
print('ask + 2 suggest_float:              %.3f ms per trial' % (1e3 * statistics.median(ask_only)))
if args.storage == 'memory':
    frozen = study.ask()
    frozen_trial = study._storage.get_trial(frozen._trial_id)
    core = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        sampler.sample_independent(study, frozen_trial, 'mean', MEAN)
        sampler.sample_independent(study, frozen_trial, 'std', STD)
        core.append(time.perf_counter() - t0)
    print('2 x TPESampler.sample_independent:  %.3f ms per proposal' % (1e3 * statistics.median(core)))
print('per_trial_cpu_ms %.6f' % (1e3 * statistics.median(per_trial_cpu)))
print('per_trial_ms %.6f' % (1e3 * statistics.median(per_trial)))
