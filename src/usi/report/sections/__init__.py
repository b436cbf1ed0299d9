"""The report's analyses, one module each, each returning a :class:`usi.report.model.Section`."""
