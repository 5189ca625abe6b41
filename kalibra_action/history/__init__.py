"""History of the base branch: run summaries (the history artifact), pooled baselines and flaky tasks.

Layer: beside stats, after traces (a summary is made from a loaded Population); metrics read the pooled
counts, the engine and the report carry the provenance.
"""

from kalibra_action.history.summary import (
    SCHEMA,
    RunSummary,
    TaskCounts,
    dumps,
    is_summary_file,
    parse_summary,
    read_summary,
    summarize,
    write_summary,
)

__all__ = ["SCHEMA", "RunSummary", "TaskCounts", "dumps", "is_summary_file", "parse_summary",
           "read_summary", "summarize", "write_summary"]
