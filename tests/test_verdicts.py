"""The verdict contract (chaosopt.analysis.verdicts) on synthetic inputs: an effect present is
reproduced, an absent one not reproduced, a noisy one inconclusive, too few seeds inconclusive,
and a control with the treatment's status makes it inconclusive (no power). Analysis layer; no
paper equation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from chaosopt.analysis import verdicts as V


def _interval(x):
  """mean ± 2 SE of a sample."""
  x = np.asarray(x, float)
  se = x.std(ddof=1) / np.sqrt(x.size)
  return x.mean() - 2 * se, x.mean() + 2 * se


@pytest.fixture
def rng():
  return np.random.default_rng(0)


def test_effect_present_absent_noisy(rng):
  present = _interval(rng.normal(1.0, 0.5, 200))
  absent = _interval(rng.normal(-1.0, 0.5, 200))
  noisy = _interval(rng.normal(0.1, 5.0, 20))
  assert V.interval_status(present, 0.0)[0] == "reproduced"
  assert V.interval_status(absent, 0.0)[0] == "not reproduced"
  status, reason = V.interval_status(noisy, 0.0)
  assert status == "inconclusive" and "straddles" in reason
  # the mirrored claim ("below the boundary")
  assert V.interval_status(absent, 0.0, effect="below")[0] == "reproduced"
  assert V.interval_status(present, 0.0, effect="below")[0] == "not reproduced"


def test_margin_decides_an_absent_effect():
  # an interval around 0 straddles 0: without a margin no decision, with one "no effect"
  assert V.interval_status((-0.02, 0.03), 0.0)[0] == "inconclusive"
  assert V.interval_status((-0.02, 0.03), 0.0, margin=0.05)[0] == "not reproduced"
  assert V.interval_status((0.01, 0.09), 0.0, margin=0.05)[0] == "reproduced"


def test_too_few_seeds_is_inconclusive(rng):
  strong = _interval(rng.normal(5.0, 0.1, 3))
  status, reason = V.interval_status(strong, 0.0, n=3, min_n=V.MIN_SEEDS)
  assert status == "inconclusive" and "too few seeds" in reason
  assert V.interval_status(strong, 0.0, n=V.MIN_SEEDS, min_n=V.MIN_SEEDS)[0] == "reproduced"


def test_non_finite_estimate_is_inconclusive():
  assert V.interval_status((float("nan"), 1.0), 0.0)[0] == "inconclusive"
  assert V.equivalence_status((None, 1.0), 0.0, 1.0)[0] == "inconclusive"


def test_equivalence(rng):
  same = _interval(rng.normal(0.0, 0.05, 400))
  far = _interval(rng.normal(3.0, 0.05, 400))
  wide = _interval(rng.normal(0.0, 5.0, 10))
  assert V.equivalence_status(same, 0.0, 0.1)[0] == "reproduced"
  assert V.equivalence_status(far, 0.0, 0.1)[0] == "not reproduced"
  assert V.equivalence_status(wide, 0.0, 0.1)[0] == "inconclusive"


def test_control_with_the_same_status_means_no_power():
  neg = V.control("null run", "reproduced", 0.9)  # a negative control that shows the effect
  v = V.decide("effect", "Fig. 1", "d", "rule", status="reproduced", control=neg)
  assert v.status == "inconclusive" and v.reason.startswith("no power")
  ok = V.control("null run", "not reproduced", 0.0)
  assert V.decide("effect", "Fig. 1", "d", "rule", status="reproduced",
                  control=ok).status == "reproduced"
  # a negative control that shows no effect, like the treatment, is what it must show
  assert V.decide("effect", "Fig. 1", "d", "rule", status="not reproduced",
                  control=ok).status == "not reproduced"
  # a positive control that misses the effect, like the treatment: no power
  pos = V.control("known effect", "not reproduced", expect="reproduced")
  v = V.decide("effect", "Fig. 1", "d", "rule", status="not reproduced", control=pos)
  assert v.status == "inconclusive" and "no power" in v.reason


def test_verdict_as_dict_is_json_and_checked():
  v = V.decide("claim", "P0 Table 1", "mean diff", "rule", status="reproduced",
               estimate=np.float64(-0.1), uncertainty=(np.float64(-0.2), -0.05))
  d = json.loads(json.dumps(v.as_dict()))
  assert d["status"] == "reproduced" and d["uncertainty"] == [-0.2, -0.05]
  assert d["control"] is None and "No control" in d["detail"]
  assert set(d) >= {"claim", "where", "statistic", "rule", "estimate", "uncertainty", "status",
                    "control", "detail", "reason", "origin"}
  with pytest.raises(ValueError, match="status"):
    V.Verdict("c", "w", "s", "r", status="holds")
  with pytest.raises(ValueError, match="status"):
    V.control("x", "partly")


def test_old_format_is_never_shown_as_decided():
  old = {"claim": "MPGD beats GD", "verdict": "holds for mpgd_0.6", "detail": "n = 3"}
  d = V.normalize(old)
  assert d["status"] == "not tested" and d["reason"] == "old format"
  assert V.short(d) == V.OLD_FORMAT == "not tested (old format)"
  assert "holds for mpgd_0.6" in d["detail"]
  md = V.markdown([old])
  assert "not tested (old format)" in md and "**holds" not in md


def test_not_tested_keeps_the_numbers():
  v = V.decide("c", "w", "s", "r", status="reproduced", estimate=1.0,
               control=V.control("k", "not reproduced"))
  d, = V.not_tested([v], "smoke test")
  assert d["status"] == "not tested" and d["estimate"] == 1.0
  assert d["control"]["status"] == "not tested"
