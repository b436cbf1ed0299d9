"""The public names of ``usi.report``: the one list (see :mod:`usi.exports`)."""

from usi.report.build import (
    ReportResult as ReportResult,
    build_report as build_report,
    write_report as write_report,
)
from usi.report.style import OKABE_ITO as OKABE_ITO
