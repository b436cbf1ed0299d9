"""The paper's 20 per-conversation features (tau-usi), exactly as its analysis code computes them.

Its cue patterns (:mod:`~usi.fingerprint.tau_usi.patterns`), the features of one conversation
(:mod:`~usi.fingerprint.tau_usi.features`) and the feature frame of many
(:mod:`~usi.fingerprint.tau_usi.frame`). The scoring on top of them lives in
:mod:`usi.metrics.tau_usi`.
"""
