"""usi.inputs — from files on disk to the per-episode table scoring reads, under one set of rules.

:mod:`~usi.inputs.frame` reduces episodes to rows (meta, survey, judge and the features of a
definition set); :mod:`~usi.inputs.table` builds the table from any readable source, in
parallel shards (:mod:`~usi.inputs.shards`) for a large canonical file; :mod:`~usi.inputs.sides`
applies the input rules (failed runs, unaligned tasks, simulator vs human sides) and says what
it left out. It sits above the formats (:mod:`usi.data`) and the features
(:mod:`usi.fingerprint`), below every scorer.
"""
