"""Bad input and careless use: one clear line on stderr, the right exit code, nothing the user
gave is modified (issue 20). Runs the console entry point in process."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtcheck.cli import entry

SAMPLE = "The council met on Monday. It approved the budget.\n"


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as stopped:
        entry(argv)
    out, err = capsys.readouterr()
    return int(stopped.value.code or 0), out, err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture()
def text(tmp_path: Path) -> Path:
    path = tmp_path / "article.txt"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


@pytest.mark.parametrize("option", ["--select", "--ignore"])
@pytest.mark.parametrize("command", ["check", "gate"])
def test_unknown_rule_codes_are_refused_with_a_suggestion(command, option, text, capsys) -> None:
    code, _, err = run([command, "--no-lm", option, "Q01", str(text)], capsys)
    assert code == 2
    line = one_line(err)
    assert "'Q01'" in line and "did you mean Q001?" in line
    code, _, err = run([command, "--no-lm", option, "X", str(text)], capsys)
    assert code == 2 and "'X'" in one_line(err)


def test_known_codes_and_prefixes_pass(text, capsys) -> None:
    code, _, _ = run(["check", "--no-lm", "--select", "Q,R001", "--ignore", "C", str(text)], capsys)
    assert code == 0


@pytest.mark.parametrize(
    "body, expected",
    [
        ('[tool.mtcheck]\nselect = ["QQ1"]\n', "'QQ1'"),
        ('[tool.mtcheck]\nlm = "no"\n', "'lm' must be true or false"),
        ('[tool.mtcheck]\nmodel = 3\n', "'model' must be a string"),
        ('[tool.mtcheck]\ndevice = "tpu"\n', "'device' must be one of"),
        ('[tool.mtcheck.severity]\nZ999 = "info"\n', "'Z999'"),
        ('[tool.mtcheck]\nallowlist = ["XI", 3]\n', "'allowlist' must be a list of strings"),
        ('[tool.mtcheck\nselect = ["Q"]\n', "invalid TOML"),
    ],
)
def test_a_discovered_config_that_is_wrong_stops_the_run(body, expected, text, tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "pyproject.toml").write_text(body, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["check", "--no-lm", str(text)], capsys)
    line = one_line(err)
    assert code == 2 and expected in line and "pyproject.toml" in line


def test_invalid_toml_names_the_line(text, tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "mtcheck.toml").write_text('select = ["Q"]\nlm = \n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["check", "--no-lm", str(text)], capsys)
    assert code == 2 and "line 2" in one_line(err)


@pytest.mark.parametrize("command", ["check", "gate"])
def test_output_naming_the_input_is_refused_and_the_input_kept(command, text, capsys) -> None:
    code, _, err = run([command, "--no-lm", str(text), "-o", str(text)], capsys)
    assert code == 2 and "is the input" in one_line(err)
    assert text.read_text(encoding="utf-8") == SAMPLE


def test_output_through_a_symlink_or_a_glob_is_refused_too(text, tmp_path, capsys) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(text)
    code, _, err = run(["check", "--no-lm", str(text), "-o", str(link)], capsys)
    assert code == 2 and "is the input" in one_line(err)
    code, _, err = run(["gate", "--no-lm", str(tmp_path / "*.txt"), "-o", str(text)], capsys)
    assert code == 2
    code, _, err = run(["gate", "--no-lm", str(tmp_path), "-o", str(tmp_path / "report.md")], capsys)
    assert code == 2 and "lies inside" in one_line(err)
    assert text.read_text(encoding="utf-8") == SAMPLE


def test_a_crash_is_exit_3_with_one_line_and_debug_shows_the_traceback(text, monkeypatch, capsys) -> None:
    import mtcheck.cli

    def broken(config, texts):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(mtcheck.cli, "run_checker", broken)
    code, _, err = run(["check", "--no-lm", str(text)], capsys)
    line = one_line(err)
    assert code == 3 and line.startswith("mtcheck: internal error: RuntimeError: boom") and "--debug" in line
    with pytest.raises(RuntimeError):
        entry(["check", "--no-lm", str(text), "--debug"])


def test_usage_errors_stay_exit_2(capsys) -> None:
    code, _, err = run(["check"], capsys)
    assert code == 2 and "Missing argument" in err
    code, _, _ = run(["--help"], capsys)
    assert code == 0
