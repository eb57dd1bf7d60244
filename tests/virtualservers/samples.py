"""The real lvs.cf files in ../shared/samples/lvs.cf (found beside the checkout, as CI has it)."""

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parents[3] / "shared" / "samples" / "lvs.cf"
INVALID_SAMPLES = {
    "17-csdn-annotated-inline-comments-INVALID.cf": (1, "unexpected arguments"),
    "19-vincentmli-piranha-gui-generated-plus-keepalived-experiment.cf": (20, "unknown command"),
}
ALL_SAMPLES = sorted(p.name for p in SAMPLES_DIR.glob("*.cf"))
VALID_SAMPLES = [name for name in ALL_SAMPLES if name not in INVALID_SAMPLES]
assert len(ALL_SAMPLES) >= 10, f"the samples are missing from {SAMPLES_DIR}"


def sample_path(name: str) -> Path:
    return SAMPLES_DIR / name
