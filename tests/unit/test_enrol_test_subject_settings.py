"""tools/enrol_test_subject.py reads the platform's settings as `make run` does: a bad one
stops it with the variable named, not a validation traceback quoting the value."""

from __future__ import annotations

import pytest

from tools.enrol_test_subject import main


@pytest.mark.usefixtures("clean_platform_environment")
def test_a_bad_setting_stops_it_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CACHEXIA_EMBEDDED_KAFKA_PORT", "ninety-ninety-two")
    with pytest.raises(SystemExit) as stopped:
        main(["S-001", "MRN123"])
    assert stopped.value.code == 2
    out, err = capsys.readouterr()
    said, variable, *_ = err.splitlines()
    assert said == "cachexia: invalid settings"
    assert variable.startswith("  CACHEXIA_EMBEDDED_KAFKA_PORT: ")
    assert "ninety-ninety-two" not in err
    assert "Traceback" not in err
    assert "MRN123" not in out + err
