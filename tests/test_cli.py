"""CLI behaviour: exit codes, formats, bad input. Heuristics only (--no-lm) so these stay fast."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from mtcheck.cli.main import main

GARBLED = "The talks ended. . Then they left.\n"
CLEAN = "The talks ended on Monday. Both leaders then left the capital.\n"


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def files(tmp_path):
    garbled = tmp_path / "garbled.txt"
    garbled.write_text(GARBLED, encoding="utf-8")
    clean = tmp_path / "clean.txt"
    clean.write_text(CLEAN, encoding="utf-8")
    return garbled, clean


def test_exit_0_when_clean_and_1_with_findings(files):
    garbled, clean = files
    assert run("check", "--no-lm", str(clean)).exit_code == 0
    assert run("check", "--no-lm", str(garbled)).exit_code == 1


def test_fail_on_error_ignores_warnings(files):
    garbled, _ = files
    result = run("check", "--no-lm", "--fail-on", "error", "--select", "P001", str(garbled))
    assert result.exit_code == 0


def test_json_schema_fields_and_offsets(files):
    garbled, clean = files
    result = run("check", "--no-lm", "--format", "json", str(garbled), str(clean))
    data = json.loads(result.output)
    assert data["version"] == 1
    assert [d["source"] for d in data["documents"]] == [str(garbled), str(clean)]
    finding = data["documents"][0]["findings"][0]
    for key in ("code", "slug", "severity", "start", "end", "line", "column", "end_line", "end_column",
                "text", "message", "suggestion", "score"):
        assert key in finding
    assert GARBLED[finding["start"] : finding["end"]] == finding["text"]
    assert data["documents"][0]["fluency"] is None
    assert data["summary"]["documents"] == 2


def test_stdin_is_read_with_dash():
    result = run("check", "--no-lm", "--format", "json", "-", input=GARBLED)
    assert json.loads(result.output)["documents"][0]["source"] == "-"


def test_select_and_ignore(files):
    garbled, _ = files
    assert run("check", "--no-lm", "--ignore", "P", str(garbled)).exit_code == 0
    assert run("check", "--no-lm", "--select", "Q", str(garbled)).exit_code == 0


def test_config_file_reseverities_a_rule(files, tmp_path):
    garbled, _ = files
    config = tmp_path / "mtcheck.toml"
    config.write_text('[severity]\nP001 = "info"\n')
    result = run("check", "--no-lm", "--config", str(config), "--format", "json", "--select", "P001", str(garbled))
    assert result.exit_code == 0
    assert json.loads(result.output)["documents"][0]["findings"][0]["severity"] == "info"


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfeh\x00i\x00", "UTF-16"),
        (b"abc\xff", "not valid UTF-8"),
        (b"\x00\x01\x02binary", "binary"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    result = CliRunner().invoke(main, ["check", "--no-lm", str(bad)])
    assert result.exit_code == 2
    assert message in result.output
    assert result.output.count("\n") == 1
    assert bad.read_bytes() == content


def test_missing_file_directory_and_bad_option(tmp_path):
    assert run("check", "--no-lm", str(tmp_path / "none.txt")).exit_code == 2
    assert run("check", "--no-lm", str(tmp_path)).exit_code == 2
    assert CliRunner().invoke(main, ["check", "--format", "pdf", "x"]).exit_code == 2
    assert CliRunner().invoke(main, ["check", "--no-lm", "--bogus-option", "x"]).exit_code == 2


def test_empty_input_is_a_clean_report(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = run("check", "--no-lm", "--format", "json", str(empty))
    assert result.exit_code == 0
    assert json.loads(result.output)["documents"][0]["findings"] == []


def test_bom_and_crlf_keep_offsets_on_the_decoded_text(tmp_path):
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"\xef\xbb\xbfFirst line.\r\nThe talks ended. . Then.\r\n")
    result = run("check", "--no-lm", "--format", "json", "--select", "P001", str(path))
    finding = json.loads(result.output)["documents"][0]["findings"][0]
    assert (finding["line"], finding["column"]) == (2, 17)
    text = path.read_bytes().decode("utf-8-sig")
    assert text[finding["start"] : finding["end"]] == finding["text"]


def test_output_file_is_written(files, tmp_path):
    garbled, _ = files
    out = tmp_path / "report.json"
    result = run("check", "--no-lm", "--format", "json", "-o", str(out), str(garbled))
    assert result.exit_code == 1
    assert json.loads(out.read_text())["documents"][0]["findings"]


def test_rules_lists_every_code():
    result = run("rules", "--format", "json")
    rows = json.loads(result.output)
    codes = {r["code"] for r in rows}
    assert {"P001", "F001"} <= codes
    assert all(r["summary"] and r["slug"] for r in rows)


def test_rules_with_codes_explain_those_rules_in_full():
    result = run("rules", "S004", "g001")
    assert result.exit_code == 0
    assert result.output.index("S004 non-word") < result.output.index("G001 orphan-attribution")  # as asked
    assert "``" not in result.output  # examples are shown as text, not reST literals
    assert "Bad:" in result.output and "Good:" in result.output and "Q001" not in result.output


def test_rules_with_a_prefix_selects_its_family():
    rows = json.loads(run("rules", "Q", "--format", "json").output)
    assert rows and {r["code"][0] for r in rows} == {"Q"}


def test_rules_with_an_unknown_code_is_a_usage_error():
    result = run("rules", "Z999")
    assert result.exit_code == 2
    assert "Z999" in result.output and "Traceback" not in result.output


def test_python_dash_m_and_no_lm_do_not_import_torch(files):
    garbled, _ = files
    code = (
        "import sys, runpy; sys.argv=['mtcheck','check','--no-lm',%r];"
        "\ntry: runpy.run_module('mtcheck', run_name='__main__')\nexcept SystemExit as e: code=e.code"
        "\nprint('torch' in sys.modules, code)" % str(garbled)
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False 1"


def test_help_loads_no_heavy_module():
    # What makes --help slow is importing torch, transformers or the web stack; its time is in scripts/bench.py.
    code = (
        "import sys, runpy; sys.argv=['mtcheck','--help']"
        "\ntry: runpy.run_module('mtcheck', run_name='__main__')\nexcept SystemExit as e: code=e.code"
        "\nprint(sorted(m for m in ('torch', 'transformers', 'fastapi', 'ray', 'sacrebleu') if m in sys.modules), code)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[] 0"


def test_every_subcommand_is_registered():
    result = run("--help")
    for command in ("check", "rules", "calibrate", "gate", "serve"):
        assert command in result.output


@pytest.mark.parametrize("command", [[], ["check"], ["gate"], ["serve"], ["calibrate"], ["rules"], ["train"]])
def test_help_texts_show_no_markup(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0 and "`" not in result.output, result.output


def test_rules_are_explained_in_the_order_asked() -> None:
    output = run("rules", "S004", "Q", "S004").output
    codes = [line.split()[0] for line in output.splitlines() if line[:1].isupper() and line[1:4].isdigit()]
    assert codes[0] == "S004" and codes[1:] == sorted(codes[1:]) and codes.count("S004") == 1
    assert all(code.startswith("Q") for code in codes[1:])


def test_a_folder_that_is_not_a_model_is_one_line(tmp_path) -> None:
    (tmp_path / "weights.gguf").write_bytes(b"")
    article = tmp_path / "a.txt"
    article.write_text("A short article.\n")
    result = subprocess.run([sys.executable, "-m", "mtcheck", "check", "--model", str(tmp_path), str(article)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "has no config.json" in result.stderr and "weights.gguf" in result.stderr


@pytest.mark.parametrize("texts, shown", [
    ([("A short text.", "a.txt")], False),
    ([("A short text.", "a.txt"), ("Another.", "b.txt")], True),
    ([("Long text. " * 10_000, "long.txt")], True),
])
def test_check_shows_progress_on_a_terminal_for_several_files_or_a_long_one(monkeypatch, texts, shown) -> None:
    import contextlib

    from mtcheck import progress
    from mtcheck.cli.main import run_checker
    from mtcheck.config import Config

    seen: dict = {}

    @contextlib.contextmanager
    def recording_bar(label, total, unit="", show=None, size=False):
        seen.update(total=total, show=show, size=size, advanced=0)
        yield lambda n: seen.update(advanced=seen["advanced"] + n)

    monkeypatch.setattr(progress, "bar", recording_bar)
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    run_checker(Config(lm=False), texts)
    total = sum(len(t) for t, _ in texts)
    assert seen == {"total": total, "show": shown, "size": True, "advanced": total}
