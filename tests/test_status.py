"""One source of truth: README's reproduction table is ``chaosopt status reports/``, generated
from the committed reports' verdicts; an old-format verdict is never shown as decided.
Execution layer; no paper equation."""
from __future__ import annotations

import json
import os

from chaosopt import cli
from chaosopt.analysis import verdicts as verdict_lib
from chaosopt.train import status

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPORTS = os.path.join(ROOT, "reports")


def test_readme_table_is_generated_from_the_reports():
  readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
  block = status.embedded(readme)
  assert block is not None, "README.md lacks the status markers"
  assert block == status.block(REPORTS), (
      "README's reproduction table differs from the reports' verdicts: run "
      "`chaosopt status reports/ --update README.md`")


def test_every_committed_verdict_has_a_computed_status():
  for row in status.rows(REPORTS):
    assert row["status"].split(" (")[0] in verdict_lib.STATUSES, row
    assert row["status"] != verdict_lib.OLD_FORMAT, f"{row['report']}: re-render with --report"


def _report(tmp_path, name, verdicts):
  d = tmp_path / name
  d.mkdir(parents=True)
  (d / "results.json").write_text(json.dumps({
      "schema": "chaosopt.results/2", "experiment": "x", "variant": "", "status": "finished",
      "results": {}, "verdicts": verdicts}))
  return d


def test_old_format_verdicts_and_the_command(tmp_path, capsys):
  _report(tmp_path, "old", [{"claim": "MPGD beats GD", "verdict": "holds", "detail": ""}])
  _report(tmp_path, "new", [verdict_lib.decide(
      "a claim", "P9 Fig. 1", "s", "r", status="reproduced",
      control=verdict_lib.control("null", "not reproduced")).as_dict()])
  assert cli.main(["status", str(tmp_path)]) == 0
  out = capsys.readouterr().out
  assert "**not tested (old format)**" in out and "holds" not in out
  assert "**reproduced**" in out and "null: not reproduced" in out
  assert out.startswith("2 verdicts in 2 reports: 1 reproduced, 1 not tested.")
  readme = tmp_path / "README.md"
  readme.write_text(f"intro\n{status.BEGIN}\nstale\n{status.END}\ntail\n")
  assert cli.main(["status", str(tmp_path), "--check", str(readme)]) == 1
  assert cli.main(["status", str(tmp_path), "--update", str(readme)]) == 0
  assert cli.main(["status", str(tmp_path), "--check", str(readme)]) == 0
  text = readme.read_text()
  assert text.startswith("intro\n") and text.endswith("tail\n") and "stale" not in text
