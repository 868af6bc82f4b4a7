-- A result's chain (its final result, then each correction superseding the one before) stays
-- one line even when several instances of this service write at once (scaled out on Apache
-- Kafka). Each instance plans a batch from what it read; two instances correcting the same
-- result at the same moment would each supersede the same head, and two first results under
-- one key would both stand. Batches that change chains are serialised (an advisory lock, see
-- the repository); these indexes make the database refuse a fork whatever happens, and the
-- refused batch is planned again from a fresh read.

-- A result is superseded by at most one final or corrected result (a preliminary result
-- names the head it follows but heads nothing).
CREATE UNIQUE INDEX results_superseded_once ON results (supersedes_result_id)
    WHERE supersedes_result_id IS NOT NULL AND status IN ('F', 'C');

-- A chain (a patient's results under one key, as a cancellation withdraws them) has at most
-- one standing first result: a later final result under the key supersedes the head, and one
-- after a cancellation starts a new chain (the old one is cancelled).
CREATE UNIQUE INDEX results_one_standing_root ON results (source, result_key, subject_id)
    WHERE supersedes_result_id IS NULL AND status IN ('F', 'C') AND cancelled_at IS NULL;
