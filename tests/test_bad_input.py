"""Bad input and careless use: one clear line on stderr, the right exit code, nothing the user
gave is modified (issue 20). Runs the console entry point in process."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtcheck.cli.main import entry

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
    import mtcheck.cli.main

    def broken(config, texts):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(mtcheck.cli.main, "run_checker", broken)
    monkeypatch.setenv("MTCHECK_DEBUG", "0")  # --debug sets it for the gate's workers; restored after the test
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


# ------------------------------------------------------------------ input limits and readers


def test_an_endless_device_stops_at_once(capsys) -> None:
    code, _, err = run(["check", "--no-lm", "/dev/zero"], capsys)
    assert code == 2 and "NUL byte at offset 0" in one_line(err)


def test_a_nul_byte_far_into_the_file_is_found(tmp_path, capsys) -> None:
    path = tmp_path / "late.txt"
    path.write_bytes(b"Plain text. " * 5000 + b"\x00 more")
    code, _, err = run(["check", "--no-lm", str(path)], capsys)
    assert code == 2 and "NUL byte at offset 60000" in one_line(err)


def test_a_file_over_the_input_limit_is_refused(tmp_path, capsys) -> None:
    path = tmp_path / "big.txt"
    path.write_text("Word. " * 400, encoding="utf-8")
    code, _, err = run(["check", "--no-lm", "--max-input-size", "1k", str(path)], capsys)
    assert code == 2 and "over the input limit of 1,000" in one_line(err)
    code, _, err = run(["check", "--no-lm", "--max-input-size", "lots", str(path)], capsys)
    assert code == 2 and "not a size" in err


def test_standard_input_over_the_limit_is_refused_without_reading_it_all(monkeypatch, capsys) -> None:
    import io

    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer):
            buffer[:] = b"a" * len(buffer)
            Endless.served += len(buffer)
            return len(buffer)

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    code, _, err = run(["check", "--no-lm", "--max-input-size", "2MB", "-"], capsys)
    assert code == 2 and "<stdin>: larger than the input limit" in one_line(err)
    assert Endless.served < 4_000_000


def test_the_config_sets_the_limit_and_a_bad_value_is_one_line(text, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mtcheck.toml").write_text('max-input-size = "10"\n', encoding="utf-8")
    code, _, err = run(["check", "--no-lm", str(text)], capsys)
    assert code == 2 and "over the input limit of 10" in one_line(err)
    (tmp_path / "mtcheck.toml").write_text('max-input-size = "ten"\n', encoding="utf-8")
    code, _, err = run(["check", "--no-lm", str(text)], capsys)
    assert code == 2 and "'max-input-size'" in one_line(err)


def test_a_symlink_loop_is_named_as_such(tmp_path, capsys) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.symlink_to(b)
    b.symlink_to(a)
    code, _, err = run(["check", "--no-lm", str(a)], capsys)
    assert code == 2 and "a loop of symbolic links" in one_line(err)


def test_a_named_pipe_is_read_and_one_without_a_writer_times_out(tmp_path, monkeypatch, capsys) -> None:
    import os
    import threading

    import mtcheck.inputs

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def write() -> None:
        with open(fifo, "w", encoding="utf-8") as handle:
            handle.write(SAMPLE)

    writer = threading.Timer(0.2, write)
    writer.start()
    code, out, _ = run(["check", "--no-lm", "--format", "json", str(fifo)], capsys)
    writer.join()
    assert code == 0 and '"findings": []' in out
    monkeypatch.setattr(mtcheck.inputs, "FIFO_WAIT_S", 0.2)
    code, _, err = run(["check", "--no-lm", str(fifo)], capsys)
    assert code == 2 and "nothing wrote to" in one_line(err)


def test_csv_with_an_unterminated_quote_is_refused_with_its_line(tmp_path, capsys) -> None:
    path = tmp_path / "corpus.csv"
    path.write_text('id,text\n1,"Fine."\n2,"Never closed.\n3,"Swallowed."\n4,Also swallowed.\n', encoding="utf-8")
    code, _, err = run(["gate", "--no-lm", str(path)], capsys)
    line = one_line(err)
    assert code == 2 and f"{path}:3: invalid CSV (unbalanced quotation marks" in line
    path.write_text('id,text\n1,"Fine."\n2,"Never closed.\n3,Swallowed.\n', encoding="utf-8")
    code, _, err = run(["gate", "--no-lm", str(path)], capsys)
    assert code == 2 and f"{path}:3: invalid CSV (a quoted field that never ends)" in one_line(err)


def test_deeply_nested_json_is_an_input_error_not_a_crash(tmp_path, capsys) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"text": "Fine."}\n' + '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}\n", encoding="utf-8")
    code, _, err = run(["gate", "--no-lm", str(path)], capsys)
    assert code == 2 and f"{path}:2: JSON nested too deeply" in one_line(err)


def test_a_corpus_segment_over_the_limit_names_its_line(tmp_path, capsys) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"text": "Short."}\n{"text": "' + "Long. " * 50 + '"}\n', encoding="utf-8")
    code, _, err = run(["gate", "--no-lm", "--max-input-size", "100", str(path)], capsys)
    assert code == 2 and f"{path}:2: a segment larger than the input limit" in one_line(err)
