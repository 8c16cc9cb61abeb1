"""CPU-sized version of the P0 Table 2 protocol (same code path as ``cifar10_table2``).

The recursion is the one of :mod:`chaosopt.experiments.cifar10_table2` (P0 eq. 8 on the first
convolution, full-batch gradient over micro-batches). CIFAR-10 cannot be downloaded here, so
this runs on FashionMNIST (Debian's dataset-fashion-mnist): 256 training images (full batch = 2
micro-batches of 128), 512 validation images (official test split), the ResNet-18 code at width
4 with one basic block per stage (a ResNet-10), crop (pad 4) + flip augmentation, η = 0.1,
first-conv-only perturbations with P0's μ = 0.03, σ = 0.01, β = 0.5, 2 seeds, 20 steps, GD and
MPGD γ = 0.6 run one after another (on CPU a vmapped conv net is a grouped convolution, 1.3-2x
slower than sequential runs). Its numbers say nothing about Table 2; they show the pipeline runs
end to end. Variants: ``quick`` (a tiny network, 2 steps).
"""
from __future__ import annotations


from chaosopt.experiments import cifar10_table2 as _t2

INFO = {"paper": "P0 (MPGD) Table 2 protocol, CPU-sized", "title": "FashionMNIST ResNet-10",
        "cost": "≈ 90 s CPU", "gpu": False}
PAPER = _t2.PAPER


SCHEMA = _t2.SCHEMA  # the keys' types and ranges (the same keys as cifar10_table2)
validate = _t2.validate
run = _t2.run
report = _t2.report
