"""Trace loading: JSONL files of one side → one columnar Population."""
