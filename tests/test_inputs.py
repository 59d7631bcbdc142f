import codecs

import pytest

from mtcheck.errors import InputError
from mtcheck.inputs import decode, read_source


def test_bom_is_dropped_and_crlf_kept():
    assert decode(codecs.BOM_UTF8 + b"Hi.\r\nThere.", "x") == "Hi.\r\nThere."


def test_invalid_utf8_names_byte_offset_and_line():
    with pytest.raises(InputError, match=r"not valid UTF-8 \(byte 0xff at offset 6, line 2\)"):
        decode(b"abc\nde\xffg", "f.txt")


def test_binary_is_rejected():
    with pytest.raises(InputError, match="binary"):
        decode(b"PK\x03\x04\x00\x00", "a.zip")


def test_utf16_is_rejected_with_advice():
    with pytest.raises(InputError, match="UTF-16"):
        decode("hi".encode("utf-16"), "u.txt")


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_source(str(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="is a directory"):
        read_source(str(tmp_path))
