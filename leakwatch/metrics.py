"""Prometheus metrics. Labels are source names (from configuration), outcomes and severities:
never an identifier, a URL, a ref or anything from a document."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

FETCHED = Counter("leakwatch_documents_fetched", "Documents stored by a source (after deduplication)",
                  ["source"], registry=REGISTRY)
POLLS = Counter("leakwatch_source_polls", "Polls of a source by outcome (ok, error, rate_limited)",
                ["source", "outcome"], registry=REGISTRY)
SOURCE_ERRORS = Counter("leakwatch_source_errors", "Failed polls of a source by error class",
                        ["source", "error"], registry=REGISTRY)
MATCHED = Counter("leakwatch_documents_matched", "Match jobs finished, by source and outcome "
                  "(none, low, medium, high, critical, duplicate, failed, dead)",
                  ["source", "outcome"], registry=REGISTRY)
MATCH_SECONDS = Histogram("leakwatch_match_seconds", "CPU-side time to extract and match one document",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
                          registry=REGISTRY)
LATENCY = Histogram("leakwatch_fetch_to_finding_seconds", "Time from a document being stored to its match "
                    "being recorded", buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900),
                    registry=REGISTRY)
QUEUE_DEPTH = Gauge("leakwatch_queue_depth", "Match jobs pending or running", registry=REGISTRY)
QUEUE_OLDEST = Gauge("leakwatch_queue_oldest_seconds", "Age of the oldest pending or running match job",
                     registry=REGISTRY)
QUEUE_DEAD = Gauge("leakwatch_queue_dead", "Match jobs that failed their last attempt", registry=REGISTRY)
SOURCE_FAILING = Gauge("leakwatch_source_consecutive_failures", "Consecutive failed polls of a source",
                       ["source"], registry=REGISTRY)
SOURCE_LAST_SUCCESS = Gauge("leakwatch_source_last_success_timestamp", "Unix time of a source's last "
                            "successful poll", ["source"], registry=REGISTRY)
DB_ERRORS = Counter("leakwatch_database_errors", "Database operations that failed and were retried",
                    ["role"], registry=REGISTRY)
PUSHED = Counter("leakwatch_push_requests", "Requests to the push endpoint by outcome",
                 ["source", "outcome"], registry=REGISTRY)
