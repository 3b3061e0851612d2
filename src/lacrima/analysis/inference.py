"""Inference helpers the battery shares with the packages built on it: the t test and Fisher-z interval of a
(partial) correlation from r, n and the number of covariates (federated pooling) and the Wilson interval of
a proportion (session archives)."""

from lacrima.analysis._correlation import correlation_inference
from lacrima.analysis._descriptives import wilson_interval

__all__ = ["correlation_inference", "wilson_interval"]
