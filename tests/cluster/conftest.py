"""Registers the `cluster` marker: tests that start a real local SLURM cluster (root, apt-get)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "cluster: starts a real single-node SLURM cluster (needs root and Debian's slurm packages, "
        "installed with apt-get if missing); deselect with -m 'not cluster'",
    )
