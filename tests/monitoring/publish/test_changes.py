"""The pending changes as a person reads them: grouped by lvs.cf block, counted, a screenful kept
(plain texts in, plain data out)."""

import random

import pytest

from monitoring.publish import changes


def lvs_cf(virtuals: int, reals: int, active: str = "1", skip: int = -1) -> str:
    lines = ["serial_no = 4", "primary = 192.0.2.1", "service = lvs", ""]
    for v in range(virtuals):
        if v == skip:
            continue
        lines += [
            f"virtual vs{v} {{",
            f"     address = 198.51.100.{v + 1} eth0:1",
            "     port = 80",
        ]
        for r in range(reals):
            lines += [f"     server rs{r} {{", f"         address = 203.0.113.{r + 1}"]
            lines += [f"         active = {active}", "         weight = 1", "     }"]
        lines += ["}", ""]
    return "\n".join(lines)


def test_a_bulk_deactivation_is_one_group_per_virtual_server_with_its_active_lines():
    result = changes.pending(lvs_cf(4, 5), lvs_cf(4, 5, active="0"), screenful=1000)
    assert (result.added, result.removed) == (20, 20)
    assert [g.label for g in result.groups] == [
        "virtual vs0",
        "virtual vs1",
        "virtual vs2",
        "virtual vs3",
    ]
    first = result.groups[0]
    assert (first.added, first.removed, first.hidden) == (5, 5, 0)
    assert [line for line in first.lines if line[0] in "+-"] == [
        "-         active = 1",
        "+         active = 0",
    ] * 5
    assert not result.folded


def test_past_a_screenful_lines_are_counted_not_kept():
    result = changes.pending(lvs_cf(100, 10), lvs_cf(100, 10, active="0"), screenful=60)
    assert (result.added, result.removed) == (1000, 1000)
    assert sum(len(g.lines) for g in result.groups) == 60
    assert result.folded
    assert len(result.groups) == changes.GROUPS_SHOWN and result.more_groups == 50
    assert result.more_added == result.more_removed == 500
    shown = result.groups[0]
    assert shown.added == 10 and len(shown.lines) + shown.hidden > 20
    later = result.groups[-1]
    assert later.lines == [] and later.added == 10  # counted, not kept


def test_a_removed_virtual_server_and_a_global_change_are_their_own_groups():
    old = lvs_cf(3, 2)
    new = lvs_cf(3, 2, skip=1).replace("primary = 192.0.2.1", "primary = 192.0.2.2")
    result = changes.pending(old, new)
    assert [(g.label, g.added, g.removed) for g in result.groups] == [
        ("", 1, 1),
        ("virtual vs1", 0, 15),  # its 15 lines, the blank after it included
    ]


def test_nothing_changed_is_nothing_pending():
    assert not changes.pending(lvs_cf(3, 3), lvs_cf(3, 3)).changed


def apply(old: list[str], hunk_lines: list[str]) -> list[str]:
    """Apply unified-diff hunks (old line numbers in the headers) to `old`."""
    out, at = [], 0
    for line in hunk_lines:
        if line.startswith("@@"):
            start = int(line.split()[1][1:].split(",")[0])
            length = line.split()[1].split(",")
            begin = start if len(length) > 1 and length[1] == "0" else start - 1
            out += old[at:begin]
            at = begin
        elif line.startswith((" ", "-")):
            assert old[at] == line[1:]
            at += 1
            if line[0] == " ":
                out.append(line[1:])
        else:
            out.append(line[1:])
    return out + old[at:]


@pytest.mark.parametrize("seed", range(30))
def test_the_hunks_are_a_correct_patch_for_any_edit(seed, monkeypatch):
    rng = random.Random(seed)
    if seed % 3 == 0:
        monkeypatch.setattr(changes, "MAX_PAIRS", 0)  # the plain one-hunk fallback
    old = [rng.choice(["a", "b", "}", "active = 1"]) for _ in range(rng.randint(0, 40))]
    new = list(old)
    for _ in range(rng.randint(1, 6)):
        where = rng.randint(0, len(new))
        kind = rng.choice(["insert", "delete", "replace"])
        if kind == "insert" or not new[where:]:
            new.insert(where, rng.choice(["x", "active = 0", "b"]))
        elif kind == "delete":
            del new[where]
        else:
            new[where] = "active = 0"
    assert apply(old, list(changes.hunks(old, new))) == new


def test_the_whole_diff_lists_every_changed_line_under_file_headers():
    lines = list(changes.whole(lvs_cf(100, 10), lvs_cf(100, 10, active="0"), "serial 4", "draft"))
    assert lines[:2] == ["--- serial 4", "+++ draft"]
    assert lines.count("+         active = 0") == 1000
    assert sum(line.startswith("@@") for line in lines) == 100  # a hunk per virtual server


def test_pending_changes_survive_their_json():
    result = changes.pending(lvs_cf(60, 2), lvs_cf(60, 2, active="0"))
    assert changes.PendingChanges.from_json(result.to_json()) == result
