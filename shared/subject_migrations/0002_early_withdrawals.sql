-- A withdrawal read before its subject's enrolment (a topic re-published after a broker
-- restart, a replay): kept until the enrolment arrives, which then starts out withdrawn.
-- Without it the withdrawal was an UPDATE of nothing, marked processed, and lost: the
-- subject then counted as enrolled.
CREATE TABLE early_withdrawals (
    subject_id   text        PRIMARY KEY,
    withdrawn_at timestamptz NOT NULL
);
