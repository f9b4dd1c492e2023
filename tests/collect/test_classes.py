"""Class names and their search queries, from options and classes files."""

from __future__ import annotations

import pytest

from collector.classes import ClassSpecError, build_specs, check_name, parse_classes_file


@pytest.mark.parametrize(
    "name", ["", "  ", "..", ".", "a/b", "a\\b", "../etc", ".hidden", "_quarantine", "a:b", "x" * 101]
)
def test_unsafe_class_names_are_rejected(name):
    with pytest.raises(ClassSpecError):
        check_name(name)


def test_classes_file_lines_give_names_and_queries():
    text = "# animals\ncat: cat photo | kitten\n\ndog\nred_panda  # comment\n"
    assert parse_classes_file(text) == [("cat", ["cat photo", "kitten"]), ("dog", []), ("red_panda", [])]


def test_explicit_queries_replace_the_class_name_and_unknown_classes_are_added():
    specs = {s.name: s.queries for s in build_specs(["cat", "red_panda"], None, ["cat=猫", "bird=鸟"])}
    assert specs == {"cat": ("猫",), "red_panda": ("red panda",), "bird": ("鸟",)}


def test_class_names_differing_only_in_case_are_rejected():
    with pytest.raises(ClassSpecError, match="case"):
        build_specs(["Cat", "cat"])
