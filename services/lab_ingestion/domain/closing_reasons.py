"""Why an operator closes a rejection that no replay settles (``cachexia rejection close``;
migration 0037's list): fixed words, never free text, which could name the patient."""

CLOSING_REASONS = {
    "resent": "the laboratory sent the input again",
    "not-needed": "it holds nothing the trial keeps (a test message, another study's result)",
}
