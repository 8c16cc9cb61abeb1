"""Which data an image experiment ran on: the real files or a generated stand-in (smoke runs).

No paper equation: data plumbing for ``cifar10_table2``, ``fmnist_fullbatch``,
``sgd_noise_fmnist``, ``msgd_fmnist`` and ``linear_scaling_rule``. A quick variant sets one
config key, ``config.data.allow_synthetic = True``: the loaders then read the real data when it
is present (never downloading it) and otherwise the generated set of
:mod:`chaosopt.tasks.synthetic`, written in the official format and read by the same parser.
Full variants lack the key: real data only, downloaded when possible, otherwise a
:class:`chaosopt.core.errors.DataError` naming the missing file. :func:`source` records which
data a run used (the experiments store it as ``results["data"]``) and :func:`report_line` says
it in the report.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from chaosopt.tasks import _download, cifar10, fashion_mnist, synthetic

TITLES = {"cifar10": "CIFAR-10", "fashion_mnist": "FashionMNIST"}
SIZES = {"cifar10": synthetic.CIFAR10_SIZES, "fashion_mnist": synthetic.FASHION_MNIST_SIZES}


def allow_synthetic(config: Any) -> bool:
  """``config.data.allow_synthetic`` (False when the config has no ``data`` key)."""
  data = config.get("data") if config is not None and hasattr(config, "get") else None
  return bool(data is not None and data.get("allow_synthetic", False))


def _check_name(name: str) -> None:
  if name not in TITLES:
    raise ValueError(f"unknown data set {name!r}; known: {sorted(TITLES)}")


def load(name: str, split: str, config: Any = None, data_dir: Optional[str] = None):
  """``(images uint8, labels int32)`` of ``split`` of data set ``name`` (``"cifar10"`` or
  ``"fashion_mnist"``), generated instead of missing when ``config`` allows it."""
  _check_name(name)
  allow = allow_synthetic(config)
  if name == "cifar10":
    return cifar10.load_cifar10(split, data_dir or None, allow_synthetic=allow)
  return fashion_mnist.load_fashion_mnist(split, data_dir or None, allow_synthetic=allow)


def source(name: str, config: Any = None, data_dir: Optional[str] = None) -> dict:
  """What :func:`load` reads for ``name`` under ``config`` (the same decision):
  ``{"name", "source": "real", "files", "checksum"}`` or ``{"name", "source": "generated",
  "seed", "sizes", "format", "reason"}``. Call it after loading (a download may have happened)."""
  _check_name(name)
  if name == "cifar10":
    path = cifar10.real_path(data_dir or None)
    files = None if path is None else [path]
    where = os.path.join(_download.cache_dir(data_dir or None), cifar10.FILENAME)
    checksum = f"md5 of the tarball ({cifar10.MD5})"
    fmt = "CIFAR-10 python tarball (cifar-10-python.tar.gz)"
  else:
    found = fashion_mnist.real_files(data_dir or None)
    files = None if found is None else [p for s in ("train", "test") for p in found[s]]
    where = ", ".join(fashion_mnist._candidate_dirs(data_dir or None))  # noqa: SLF001
    checksum = "sha256 of the decompressed IDX data"
    fmt = "IDX gz files with the official names"
  if files is not None or not allow_synthetic(config):
    return {"name": name, "source": "real", "files": files or [], "checksum": checksum}
  return {"name": name, "source": "generated", "seed": synthetic.SEED,
          "sizes": dict(SIZES[name]), "format": fmt,
          "reason": f"No {TITLES[name]} files found (looked in {where}) and "
                    "config.data.allow_synthetic is set"}


def report_line(results: Any) -> str:
  """One report paragraph on ``results["data"]``, with a blank line before and after it (empty
  for results without the record)."""
  data = results.get("data") if isinstance(results, dict) else None
  if not data:
    return ""
  title = TITLES.get(data.get("name"), data.get("name"))
  if data.get("source") == "generated":
    sizes = data.get("sizes", {})
    return (f"\n**Data: generated, not {title}.** {data.get('reason', '')}. This smoke run took "
            f"its images from a generated set of {sizes.get('train')} training and "
            f"{sizes.get('test')} test images in the official format ({data.get('format')}; ten "
            f"classes, each a fixed random pattern plus pixel noise, seed {data.get('seed')}). "
            f"Its numbers test the code path only and say nothing about the paper.\n")
  files = ", ".join(f"`{f}`" for f in data.get("files", []))
  return f"\nData: {title}, the real files ({files}; {data.get('checksum')} checked).\n"
