"""Test and benchmark infrastructure that is not part of the product (never packaged): the private ROS
network namespace (:mod:`tests.support.local_network`). Tests import it relatively (``from .support...``);
benchmarks put the repository root on ``sys.path`` and import ``tests.support``."""
