"""The writer's memory: what it last left in the kernel, and the health changes diffed against it.

What belongs in the IPVS table is the published configuration minus what health took out, and
only the worker knows both. `WrittenTable` is its memory of what it last left in the kernel: a
health change is diffed against that memory and costs only its own netlink messages (measured in
the lab VM at 1,000 x 10: a weight change was a 4 ms apply inside a 2.4 s dump and diff). A full
converge (dump, diff, VIPs, timeouts, NAT) runs when the configuration changes, after any
failure, when someone asks, and on the drift-repair schedule, which is what finds someone's
`ipvsadm -C`, a reboot or a hand-deleted entry.

How other processes reach the worker is in coordination.py. Django-free, like the rest of this
package.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

from monitoring.ipvs.converge import (
    LOCK_WAIT_SECONDS,
    ApplyResult,
    apply,
    apply_lock,
    remove_path_services,
)
from monitoring.ipvs.drivers.base import Driver, DriverError
from monitoring.ipvs.table import DesiredState, ServiceKey, desired_state, diff, service_key
from monitoring.live.holds import Held, changed_refs
from virtualservers.lvsconf.model import LvsConfig, RealServerRef
from virtualservers.lvsconf.paths import PathCheck


class WrittenTable:
    """Applies configurations and health changes, remembering what it wrote."""

    def __init__(
        self,
        driver: Driver,
        state_path: Path,
        arp_count: int = 5,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self.driver = driver
        self.state_path = state_path
        self.arp_count = arp_count
        self.lock_wait = lock_wait
        # What the kernel holds for our services after our last successful write, and for which
        # configuration; None: unknown (never written, or the last write failed).
        self.written: DesiredState | None = None
        self.written_for: LvsConfig | None = None
        self.written_down: frozenset[RealServerRef] = frozenset()
        self.written_held: Held = {}
        self.written_weights: dict[RealServerRef, int] = {}  # slow start's, when written
        self.owners: set[str] = set()  # names of the virtual blocks that make a service
        # The path checks' needs: each real server's device (asked once), and each sysctl's
        # value before this writer first changed it, put back on a clean stop.
        self.path_devices: dict[str, str] = {}
        self.sysctls_before: dict[tuple[str, str], str] = {}
        # The arguments of the last full converge while nothing was written since: drift repair
        # (every few seconds) with the same ones reuses its desired state instead of computing
        # the whole table again (1,000 x 10: 40 ms of the 74 ms it took, bench_worker.py).
        self.converged_with: tuple | None = None

    def converge(
        self,
        config: LvsConfig,
        down: Collection[RealServerRef] = (),
        held: Held | None = None,
        weights: Mapping[RealServerRef, int] | None = None,
        paths: Iterable[PathCheck] = (),
    ) -> ApplyResult:
        """Read the kernel and converge everything: the table with the path checks' private
        services, the VIPs, timeouts, NAT, and the sysctls the path checks need."""
        if self.written_for is not config:
            self.path_devices = {}  # routes may have changed with the configuration
        paths = list(paths)
        arguments = (config, frozenset(down), dict(held or {}), dict(weights or {}), paths)
        same = self.written is not None and self._same_arguments(arguments)
        result = apply(
            config,
            self.driver,
            self.state_path,
            down=down,
            arp_count=self.arp_count,
            lock_wait=self.lock_wait,
            held=held,
            weights=weights,
            paths=paths,
            path_devices=self.path_devices,
            desired=self.written if same else None,
        )
        for device, name, before, _value in result.sysctls_set:
            self.sysctls_before.setdefault((device, name), before)
        self._remember(config, result, down, held, weights)
        self.converged_with = arguments if self.written is not None else None
        return result

    def _same_arguments(self, arguments: tuple) -> bool:
        last = self.converged_with
        if last is None or last[0] is not arguments[0]:
            return False
        return all(a == b for a, b in zip(last[1:], arguments[1:], strict=True))

    def remove_path_services(self, config: LvsConfig | None) -> ApplyResult:
        """A clean stop: the private services go, and the sysctls this writer changed get
        their values back; the operator's services stay as they are."""
        operators = set()
        for virtual in config.virtuals if config is not None else ():
            if virtual.effective_active:
                operators.add(service_key(virtual))
        result = ApplyResult()
        try:
            result.ops = remove_path_services(
                self.driver, self.state_path, operators, self.lock_wait
            )
            result.executed = len(result.ops)
        except DriverError as exc:
            result.error = str(exc)
        for (device, name), before in sorted(self.sysctls_before.items()):
            try:
                self.driver.set_interface_sysctl(device, name, before)
                result.sysctls_set.append((device, name, "", before))
            except DriverError as exc:
                result.warnings.append(str(exc))
        self.sysctls_before = {}
        self.forget()
        return result

    def update(
        self,
        config: LvsConfig,
        down: Collection[RealServerRef],
        held: Held | None = None,
        weights: Mapping[RealServerRef, int] | None = None,
        paths: Iterable[PathCheck] = (),
    ) -> ApplyResult:
        """A health change: only the virtual servers whose real servers changed state are
        recomputed, and diffed against what was written; no dump. Anything else (another
        configuration, nothing known) takes the full converge. Measured in the lab VM at
        1,000 x 10: recomputing and diffing the whole table cost 1.5 s per transition."""
        written = self.written
        held = held or {}
        if written is None or self.written_for is not config:
            return self.converge(config, down, held, weights, paths)
        down = frozenset(down)
        weights = dict(weights or {})
        changed = {ref.virtual for ref in down ^ self.written_down}
        changed |= {ref.virtual for ref in changed_refs(self.written_held, held)}
        old_weights = self.written_weights
        changed |= {
            ref.virtual
            for ref in weights.keys() | old_weights.keys()
            if weights.get(ref) != old_weights.get(ref)
        }
        # Only a service's first virtual block counts (Piranha ignores later blocks of the same
        # firewall mark), so only those are recomputed.
        subset = [v for v in config.virtuals if v.name in changed and v.name in self.owners]
        partial = desired_state(replace(config, virtuals=subset), down, held=held, weights=weights)
        if not partial.table.keys() <= written.table.keys():
            return self.converge(config, down, held, weights, paths)
        table = dict(written.table)
        table.update(partial.table)
        desired = DesiredState(table, written.vips, written.warnings, written.nat_router)
        result = ApplyResult(warnings=list(written.warnings), desired=desired)
        current = {key: written.table[key] for key in partial.table}
        self.converged_with = None  # what is written is no longer a converge's
        # The services are the same ones, and ours: nothing outside them can be touched.
        result.ops = diff(current, partial.table, partial.table.keys())
        if result.ops:
            with apply_lock(self.state_path, self.lock_wait):
                try:
                    result.executed = self.driver.apply(result.ops)
                except DriverError as exc:
                    result.error = str(exc)
        self._remember(config, result, down, held, weights)
        return result

    def forget(self) -> None:
        """The kernel may differ from what was written (a driver error, a new driver)."""
        self.written, self.written_for = None, None
        self.converged_with = None

    def _remember(
        self,
        config: LvsConfig,
        result: ApplyResult,
        down: Collection[RealServerRef],
        held: Held | None = None,
        weights: Mapping[RealServerRef, int] | None = None,
    ) -> None:
        if not (result.ok and result.desired is not None):
            self.forget()
            return
        if self.written_for is not config:
            owners: dict[ServiceKey, str] = {}
            for virtual in config.virtuals:
                if virtual.effective_active:
                    owners.setdefault(service_key(virtual), virtual.name)
            self.owners = set(owners.values())
        self.written, self.written_for = result.desired, config
        self.written_down = frozenset(down)
        self.written_held = dict(held or {})
        self.written_weights = dict(weights or {})
