"""usi.core — the domain's nouns, which every other layer speaks.

The canonical :class:`~usi.core.episode.Episode` (messages, reward, survey, metadata), the
post-episode survey and its goodness scale (:mod:`usi.core.survey`), and strict JSON decoding
with one-line errors (:mod:`usi.core.decode`). It imports nothing of usi but :mod:`usi.errors`,
so a format, a metric or the study can all depend on it without depending on each other.
"""
