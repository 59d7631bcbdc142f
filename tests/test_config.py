from pathlib import Path

import pytest

from mtcheck.config import Config, ConfigError, discover, from_mapping, load_file
from mtcheck.findings import Severity


def test_select_and_ignore_work_by_prefix():
    config = Config(select=("Q", "R001"), ignore=("Q005",))
    assert config.enabled("Q001")
    assert config.enabled("R001")
    assert not config.enabled("R002")
    assert not config.enabled("Q005")


def test_longest_severity_prefix_wins():
    config = Config(severity={"P": Severity.INFO, "P001": Severity.ERROR})
    assert config.severity_for("P001", Severity.WARNING) is Severity.ERROR
    assert config.severity_for("P002", Severity.WARNING) is Severity.INFO
    assert config.severity_for("Q001", Severity.WARNING) is Severity.WARNING


def test_pyproject_table_is_discovered_upwards(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mtcheck]\nignore = ["C"]\nallowlist = ["XI"]\nfail-on = "error"\n[tool.mtcheck.severity]\nP002 = "info"\n'
    )
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    config = discover(nested)
    assert config.ignore == ("C",)
    assert config.allowlist == frozenset({"XI"})
    assert config.fail_on is Severity.ERROR
    assert config.severity == {"P002": Severity.INFO}


def test_mtcheck_toml_takes_precedence_over_pyproject(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.mtcheck]\nselect = ["Q"]\n')
    (tmp_path / "mtcheck.toml").write_text('select = ["R"]\n')
    assert discover(tmp_path).select == ("R",)


def test_pyproject_without_table_is_skipped(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert discover(tmp_path) == Config()


@pytest.mark.parametrize(
    "table, message",
    [
        ({"selcet": ["Q"]}, "unknown key"),
        ({"fail-on": "fatal"}, "unknown severity"),
        ({"severity": {"P001": "loud"}}, "unknown severity"),
        ({"select": 3}, "list of rule codes"),
        ({"allowlist": "XI"}, "allowlist"),
    ],
)
def test_invalid_config_raises_a_clear_error(table, message):
    with pytest.raises(ConfigError, match=message):
        from_mapping(table)


def test_invalid_toml_names_the_file(tmp_path: Path):
    bad = tmp_path / "mtcheck.toml"
    bad.write_text("select = [")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_file(bad)


def test_thresholds_path_is_relative_to_the_config_file(tmp_path: Path):
    (tmp_path / "mtcheck.toml").write_text('thresholds = "cal/thresholds.json"\n')
    assert load_file(tmp_path / "mtcheck.toml").thresholds == tmp_path / "cal" / "thresholds.json"
