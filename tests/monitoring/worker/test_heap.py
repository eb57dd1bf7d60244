"""The worker gives the memory it freed back to the system (monitoring.worker.heap)."""

from monitoring.worker import heap

PAGE = 4096


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def test_memory_freed_below_a_live_allocation_goes_back_to_the_system():
    # 4 KB blocks come from glibc's heap (not Python's small-object arenas); the block kept after
    # them stops glibc from trimming the heap's top by itself when they are freed.
    blocks = [bytes(4000) + bytes([i % 251]) for i in range(20_000)]  # about 80 MB
    kept = bytes(5000)
    del blocks
    before = resident_bytes()
    assert heap.give_back() is True  # glibc: this machine's and Debian's C library
    after = resident_bytes()
    assert before - after > 40 * 1024 * 1024, (before, after)
    assert kept == bytes(5000)
