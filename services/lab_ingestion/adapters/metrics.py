"""lab-ingestion's metrics, built from the injected registry.

Every counter counts messages: an HL7 message, a JSON body, a FHIR Observation (each of a
Bundle's, a transaction's too). The ACK latency is observed once per answer: per MLLP frame,
per HTTP request (README: Metrics).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shared.contracts.events.lab import Channel
from shared.metrics import LabelledChildren

# Up to 30 s: a "resend" answer comes after a batch's 5 s retry window, 10.5 s behind a
# failing batch (README: Lab ingestion); a top bucket of 5 s hid those among real hangs.
ACK_BUCKETS = (
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 7.5, 10.0, 15.0, 30.0,
)  # fmt: skip


class LabIngestionMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.received = Counter(
            "lab_messages_received_total", "Inbound lab messages",
            ["channel", "source"], registry=registry,
        )  # fmt: skip
        self.accepted = Counter(
            "lab_messages_accepted_total",
            "Messages accepted (stored, acknowledged again, or discarded as not enrolled)",
            ["channel", "source"], registry=registry,
        )  # fmt: skip
        self.rejected = Counter(
            "lab_messages_rejected_total", "Messages rejected, by reason",
            ["channel", "source", "reason"], registry=registry,
        )  # fmt: skip
        self.duplicates = Counter(
            "lab_messages_duplicate_total",
            "Messages received again (under their own id or restating stored results)",
            ["channel"], registry=registry,
        )  # fmt: skip
        # source as lab_messages_accepted_total's: a sender on the allow-list (bounded)
        self.unmatched = Counter(
            "lab_unmatched_patient_total", "Messages about patients not enrolled (discarded)",
            ["channel", "source"], registry=registry,
        )  # fmt: skip
        self.late_enrolments = Counter(
            "lab_late_enrolments_total",
            "Enrolments read after messages about their hospital number were discarded as"
            " not enrolled, since they were recorded (resend that subject's results)",
            registry=registry,
        )
        self.resend_asked = Counter(
            "lab_messages_resend_asked_total",
            "Messages answered resend (MLLP AR, HTTP 503), nothing stored, for a passing"
            " condition of the service's own, by reason: subject-directory-catching-up (a"
            " patient not found before the subject directory caught up at start-up),"
            " too-many-requests (an HTTP push beyond the cap of those received at once)",
            ["channel", "reason"], registry=registry,
        )  # fmt: skip
        self.results = Counter(
            "lab_results_stored_total", "Trial results stored", ["channel"], registry=registry
        )
        self.cancelled = Counter(
            "lab_results_cancelled_total", "Earlier results withdrawn (OBX-11 X, D, W)",
            ["channel"], registry=registry,
        )  # fmt: skip
        self.not_obtained = Counter(
            "lab_results_not_obtained_total",
            "Results the lab could not obtain (OBX-11 X, or a value such as CLUMPED read as"
            " X) under keys that never held a result: left out, nothing stored",
            ["channel"], registry=registry,
        )  # fmt: skip
        self.limits = Counter(
            "lab_results_limits_total",
            "Trial results stored as a limit the laboratory reported (<0.1, >1000: a censored"
            " value, published with its comparator), not a measurement",
            ["channel"], registry=registry,
        )  # fmt: skip
        self.replanned = Counter(
            "lab_batches_replanned_total",
            "Batches planned without a read whose assumptions no longer held (planned again)",
            registry=registry,
        )
        self.commit_duration = Histogram(
            "lab_commit_duration_seconds",
            "Time to store one batch of messages durably (its write, WAL flush included);"
            " the count is the number of batches",
            buckets=ACK_BUCKETS, registry=registry,
        )  # fmt: skip
        self.last_commit = Gauge(
            "lab_last_commit_timestamp_seconds",
            "Unix time of the last batch commit (every one writes: a result, a preliminary or"
            " not-obtained one, a kept rejection): 0 since the start until the first. Messages"
            " arriving while it stays old mean the database takes no writes (readiness only"
            " reads)",
            registry=registry,
        )
        self.empty_frames = Counter(
            "lab_mllp_empty_frames_total",
            "MLLP frames with nothing but blanks between <VT> and <FS> (an engine's"
            " keep-alive): not answered, nothing stored",
            registry=registry,
        )
        self.send_timeouts = Counter(
            "lab_mllp_send_timeouts_total",
            "MLLP connections aborted because their peer did not take an ACK within the send"
            " deadline (a peer that does not read its ACKs; its message was stored)",
            registry=registry,
        )
        self.unlisted_not_kept = Counter(
            "lab_mllp_unlisted_not_kept_total",
            "MLLP inputs from a sender not on the allow-list, or naming none, answered but"
            " not kept: their peer address had left its budget of kept rejections a minute",
            registry=registry,
        )
        self.commit_waiting = Gauge(
            "lab_commit_waiting_messages",
            "Messages and HTTP pushes read and waiting for the group commit to take them into"
            " a batch: growing while PostgreSQL (or a chain lock) holds up the writes",
            registry=registry,
        )
        self.connections_open = Gauge(
            "lab_mllp_open_connections", "MLLP connections open", registry=registry
        )
        self.connections_refused = Counter(
            "lab_mllp_connections_refused_total",
            "MLLP connections closed at once: the connection cap reached, none idle long"
            " enough to give up its slot (the peer retries)",
            registry=registry,
        )
        self.connections_evicted = Counter(
            "lab_mllp_connections_evicted_total",
            "Idle MLLP connections closed to give their slot to a new one at the cap",
            registry=registry,
        )
        self.connection_errors = Counter(
            "lab_mllp_connection_errors_total",
            "MLLP connections closed on an internal error (a defect): the frame being read"
            " or answered gets no ACK, and its lab resends it",
            registry=registry,
        )
        self.ack_latency = Histogram(
            "lab_ack_latency_seconds",
            "Time from a complete MLLP frame, or the start of an HTTP request, to its answer",
            ["channel"], buckets=ACK_BUCKETS, registry=registry,
        )  # fmt: skip
        self.child = LabelledChildren().of  # a labelled series, looked up once
        for channel in Channel:  # every channel's series shown from the start, at 0
            for per_channel in (self.duplicates, self.results, self.cancelled,
                                self.not_obtained, self.limits):  # fmt: skip
                self.child(per_channel, channel.value)
