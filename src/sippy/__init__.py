"""Sippy AI: why did this OpenShift CI job run fail?"""

__version__ = "0.1.0"
