#!/usr/bin/python3
"""Optuna 3.1's own importance of each parameter of a study in a normlab (or Optuna) storage.

    scripts/interop/fanova_importance.py sqlite:///report/report.sqlite3 report-tpe-exact [...]

For each study named, prints one line per parameter, `study,param,importance`, as
optuna.importance.get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0))
computes them from the study's COMPLETE trials (the importances sum to 1). normalization_report runs
this on its TPE studies to set Optuna's fANOVA beside its own ANOVA (docs/answer.md). Needs
python3-optuna and python3-sklearn (fANOVA's random forest); exits 3 saying so when they are missing,
2 when a study cannot be read.
"""
import sys


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        import optuna
        import sklearn  # noqa: F401  (FanovaImportanceEvaluator's random forest)
    except ImportError as e:
        print(f"fanova_importance: {e.name} is not installed (apt-get install python3-optuna python3-sklearn)",
              file=sys.stderr)
        return 3
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = argv[1]
    for name in argv[2:]:
        try:
            study = optuna.load_study(study_name=name, storage=storage)
            importances = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
        except Exception as e:  # noqa: BLE001  (say what is wrong with which study, keep going)
            print(f"fanova_importance: study '{name}' in {storage}: {type(e).__name__}: {e}", file=sys.stderr)
            return 2
        for param, value in importances.items():
            print(f"{name},{param},{value!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
