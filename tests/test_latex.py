"""LaTeX (booktabs) tables: :func:`chaosopt.train.export.latex_table` and ``chaosopt compare
--latex``. Execution layer; no paper equation."""
from __future__ import annotations

from chaosopt import cli
from chaosopt.train import export
from test_cli import _scheme_doc, _write_run


def test_latex_table_is_booktabs_and_escaped():
  tex = export.latex_table(["scheme", "mean ± SE"], [["mpgd[gamma=0.6]", "0.1 ± 0.02"],
                                                      ["a_b & 50%", "–"]], caption="x_y")
  lines = tex.splitlines()
  assert lines[0] == r"\begin{table}[t]" and lines[-1] == r"\end{table}"
  assert r"\begin{tabular}{lr}" in lines and lines.index(r"\toprule") < lines.index(r"\midrule")
  assert r"\bottomrule" in lines and r"\caption{x\_y}" in lines
  assert r"scheme & mean $\pm$ SE \\" in lines
  assert r"a\_b \& 50\% & -- \\" in lines


def test_compare_latex(tmp_path, capsys):
  da = _write_run(tmp_path / "a", _scheme_doc({"gd": {"loss": [1.0, 2.0, 3.0]}}, range(3)))
  db = _write_run(tmp_path / "b", _scheme_doc({"gd": {"loss": [1.5, 2.4, 3.6]}}, range(3)))
  assert cli.main(["compare", da, db, "--latex"]) == 0
  out = capsys.readouterr().out
  assert r"\toprule" in out and r"\bottomrule" in out
  assert any(line.startswith(r"gd & loss & 3 & 0.5 $\pm$ ") for line in out.splitlines())
