"""The reported flag's rule (tracker/keeptrack/flags.py): which evidence makes a 'normal' frame 'uncertain'."""
from __future__ import annotations

import math

from tracker.keeptrack.flags import FlagEvidence, FlagRule
from tracker.keeptrack.profiles import profile_params

CLEAN = FlagEvidence(presence=0.9, schedule_bad=False, id_change=False, log_side=0.05, similarity=0.6)


def _with(**changes) -> FlagEvidence:
    return FlagEvidence(**{**CLEAN.__dict__, **changes})


def _flags(rule: FlagRule, frames: list[FlagEvidence]) -> list[bool]:
    state = rule.start()
    return [rule.flagged(state, ev) for ev in frames]


def test_the_lite_profile_flags_each_sign_of_failure_and_not_a_clean_frame():
    rule = FlagRule.from_params(profile_params("keeptrack-lite"))
    assert _flags(rule, [CLEAN]) == [False]
    assert _flags(rule, [_with(schedule_bad=True)]) == [True]
    assert _flags(rule, [_with(id_change=True)]) == [True]          # the target's object id switched
    assert _flags(rule, [_with(presence=0.2)]) == [True]
    # a box 1.8x (or 0.55x) its first size that the scale search finds unlike the target: a runaway size
    assert _flags(rule, [_with(log_side=math.log(1.8), similarity=0.1)]) == [True]
    assert _flags(rule, [_with(log_side=-math.log(1.8), similarity=0.1)]) == [True]
    # the same size change on a target that still looks like its template is a real zoom, not a failure
    assert _flags(rule, [_with(log_side=math.log(1.8), similarity=0.8)]) == [False]
    # a poor similarity alone, at the first box's size, is not a failure either
    assert _flags(rule, [_with(similarity=0.05)]) == [False]


def test_the_keeptrack_profiles_report_the_schedules_flags_only():
    rule = FlagRule.from_params(profile_params("keeptrack"))
    assert _flags(rule, [_with(presence=0.01, id_change=True, log_side=2.0, similarity=0.0)]) == [False]
    assert _flags(rule, [_with(schedule_bad=True)]) == [True]


def test_a_held_flag_lasts_until_the_presence_recovers():
    rule = FlagRule(presence_th=0.3, hold_presence_th=0.6)
    frames = [_with(presence=0.2), _with(presence=0.5), _with(presence=0.55), _with(presence=0.7),
              _with(presence=0.5)]
    assert _flags(rule, frames) == [True, True, True, False, False]
    # each track starts unflagged
    assert _flags(rule, [_with(presence=0.5)]) == [False]


def test_the_benchs_vectorised_search_reports_what_the_rule_reports():
    """bench/flags.py chooses thresholds with a vectorised twin of FlagRule; on random evidence (runs of random
    length, each starting with its initialisation frame) both flag the same frames, for every rule tried."""
    import numpy as np

    from bench.flags import candidate_rules, fast_flags, rule_flags

    rng = np.random.default_rng(0)
    n = 600
    frame = np.concatenate([np.arange(k) for k in rng.integers(2, 40, 60)])[:n]
    d = {"frame": frame, "iou": rng.uniform(0, 1, n), "presence": rng.uniform(0, 1, n),
         "sched_bad": rng.uniform(size=n) < 0.05, "id_change": rng.uniform(size=n) < 0.03,
         "log_side": rng.normal(0, 0.4, n), "sim_centre": np.where(rng.uniform(size=n) < 0.1, np.nan,
                                                                      rng.uniform(0, 0.8, n))}
    rules = list(candidate_rules())[::7]
    for rule in rules:
        assert np.array_equal(fast_flags(d, rule), rule_flags(d, rule)), rule
    assert len(rules) > 50
