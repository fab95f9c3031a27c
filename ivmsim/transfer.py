"""Memory transfer of an active partition migration: iterative pre-copy, then stop-and-copy.

The model follows ivm-cli.md §1.4 and §8. The source mover service partition (MSP) streams the
partition's memory to the destination MSP while the partition keeps running:

* round 0 sends every page the partition has touched;
* each later round re-sends the pages dirtied while the previous round ran
  (``dirty_mb_s`` × that round's wall-clock duration), never less than the hot working set and never
  more than the touched memory;
* after each round the source decides whether to stop pre-copy. The checks, in this order, are:
  ``converged`` (the next round, sent at the *measured* rate, fits the downtime target),
  ``max_rounds`` (that many pre-copy rounds are done), ``max_sent`` (``max_sent_factor`` × memory
  has been sent);
* then the partition is suspended, the last round is sent, and the partition resumes on the
  destination after a fixed resume overhead. The suspend window is the final round's send time plus
  that overhead.

"Measured rate" is the average rate of the round that just finished: its size divided by its
wall-clock duration, stalls included. We chose it over the instantaneous bandwidth because a real
MSP can only know what it achieved. A migration whose link was shared during the last round plans
its stop with the rate it actually had.

Two forms exist. ``PreCopy`` is stepped by the simulator with the bandwidth each migration gets at
that moment; ``closed_form`` gives the same plan for a constant bandwidth from geometric-series
formulas. The tests check that the two agree. Units are MB (the IVM's MB, 2**20 bytes) and seconds.
This module is pure: standard library only, no I/O, deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

BYTES_PER_MB = 1024 * 1024
# Planning rule of thumb for one MSP pair on Gigabit Ethernet (ivm-cli.md §8).
GBE_1_MB_S = 80.0
# Not an IBM figure: §7 says "scale up for 10 GbE", so we assume ten times the 1 GbE rate.
GBE_10_MB_S = 800.0

PHASE_PRECOPY = "precopy"
PHASE_SUSPENDED = "suspended"
PHASE_DONE = "done"

STOP_CONVERGED = "converged"
STOP_MAX_ROUNDS = "max_rounds"
STOP_MAX_SENT = "max_sent"

# Relative slack for the threshold tests. Without it, a case that sits exactly on a threshold (for
# example, sent == 3 × memory) could be decided one way by the stepped model and the other way by
# the closed form, because their floats were summed differently.
_REL_EPS = 1e-9


def _at_most(a: float, b: float) -> bool:
    return a <= b + _REL_EPS * max(abs(b), 1.0)


def _check_number(name: str, value: float, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


@dataclass(frozen=True)
class Workload:
    """What the running partition does to its memory while it migrates."""

    touched_mb: float  # memory the partition has touched (what round 0 must send)
    dirty_mb_s: float  # rate at which the running workload dirties pages
    working_set_mb: float  # hot pages: every round after round 0 re-sends at least this much (capped at touched)

    def __post_init__(self) -> None:
        _check_number("touched_mb", self.touched_mb)
        _check_number("dirty_mb_s", self.dirty_mb_s)
        _check_number("working_set_mb", self.working_set_mb)


@dataclass(frozen=True)
class TransferSummary:
    """The whole transfer for a constant bandwidth (from ``closed_form``)."""

    rounds: int  # all rounds sent, including the final stop-and-copy round
    precopy_rounds: int  # rounds sent while the partition ran (rounds - 1)
    precopy_sent_mb: float
    final_round_mb: float  # sent while the partition is suspended
    total_sent_mb: float
    precopy_time_s: float
    suspend_window_s: float  # final round's send time + resume overhead
    total_time_s: float  # precopy_time_s + suspend_window_s
    converged: bool
    stop_reason: str


@dataclass(frozen=True)
class _Limits:
    """Validated parameters that stay fixed for one migration."""

    memory_mb: float
    touched_mb: float
    working_set_mb: float  # already capped at touched_mb
    dirty_mb_s: float
    downtime_target_s: float
    resume_overhead_s: float
    max_rounds: int
    max_sent_mb: float

    @classmethod
    def build(cls, memory_mb: float, workload: Workload, downtime_target_s: float, resume_overhead_s: float,
              max_rounds: int, max_sent_factor: float) -> _Limits:
        _check_number("memory_mb", memory_mb, positive=True)
        _check_number("downtime_target_s", downtime_target_s, positive=True)
        _check_number("resume_overhead_s", resume_overhead_s)
        _check_number("max_sent_factor", max_sent_factor, positive=True)
        if isinstance(max_rounds, bool) or not isinstance(max_rounds, int) or max_rounds < 1:
            raise ValueError(f"max_rounds must be an int >= 1, got {max_rounds!r}")
        if workload.touched_mb > memory_mb:
            raise ValueError(f"touched_mb ({workload.touched_mb}) exceeds memory_mb ({memory_mb})")
        return cls(
            memory_mb=float(memory_mb),
            touched_mb=float(workload.touched_mb),
            working_set_mb=float(min(workload.working_set_mb, workload.touched_mb)),
            dirty_mb_s=float(workload.dirty_mb_s),
            downtime_target_s=float(downtime_target_s),
            resume_overhead_s=float(resume_overhead_s),
            max_rounds=max_rounds,
            max_sent_mb=float(max_sent_factor * memory_mb),
        )

    def next_round_mb(self, previous_duration_s: float) -> float:
        """Pages dirtied during the previous round, floored at the working set, capped at touched."""
        return min(self.touched_mb, max(self.working_set_mb, self.dirty_mb_s * previous_duration_s))

    def stop_reason(self, finished_round: int, sent_mb: float, next_mb: float,
                    round_mb: float, round_duration_s: float) -> str | None:
        """Whether pre-copy stops after ``finished_round`` and why. The order of the checks is the tie-break.

        The measured rate is round_mb / round_duration_s; the convergence test is written without
        the division so that a round of zero size (nothing touched) needs no rate.
        """
        if next_mb == 0 or _at_most(next_mb * round_duration_s, self.downtime_target_s * round_mb):
            return STOP_CONVERGED
        if finished_round + 1 >= self.max_rounds:
            return STOP_MAX_ROUNDS
        if _at_most(self.max_sent_mb, sent_mb):
            return STOP_MAX_SENT
        return None


def _smallest(pred: Callable[[int], bool], guess: float, lo: int, hi: int) -> int | None:
    """Smallest i in [lo, hi] for which the monotone ``pred`` holds, or None.

    ``guess`` comes from a logarithm and may be off by one because of rounding, or may be infinite.
    We only walk from it to the exact answer, so the cost is O(1) steps in practice.
    """
    i = hi if not math.isfinite(guess) else min(max(math.ceil(guess), lo), hi)
    while i > lo and pred(i - 1):
        i -= 1
    while i < hi and not pred(i):
        i += 1
    return i if pred(i) else None


class _Sizes:
    """Round sizes s_i = clip(S·q^i, W, M) at a constant rate R, with q = dirty / R.

    The pre-copy recurrence s_{i+1} = clip(dirty · s_i / R, W, M) has this closed form because the
    clip is monotone and W <= S <= M. The sizes are geometric for i < g, then constant at c
    (c = W when q < 1 and they shrink to the working set, c = M when q > 1 and they grow to the
    touched memory). So a partial sum P(n) = s_0 + … + s_{n-1} is a geometric sum plus a linear tail.
    """

    def __init__(self, first_mb: float, q: float, floor_mb: float, cap_mb: float, horizon: int) -> None:
        self.s, self.q, self.w, self.m = first_mb, q, floor_mb, cap_mb
        # Indices beyond horizon are never looked at; "never" is represented by horizon + 1.
        self.never = horizon + 1
        self.g, self.c = self._geometric_span()

    def _power(self, i: int) -> float:
        """S·q^i without overflow (q may be huge when the bandwidth is tiny)."""
        if i == 0 or self.s == 0:
            return self.s
        if self.q == 0:
            return 0.0
        log_value = math.log(self.s) + i * math.log(self.q)
        return math.inf if log_value > 700 else self.s * self.q**i

    def size(self, i: int) -> float:
        return self.s if i == 0 else min(self.m, max(self.w, self._power(i)))

    def _geometric_span(self) -> tuple[int, float]:
        s, q, w, m = self.s, self.q, self.w, self.m
        if q == 1:
            return self.never, s
        if q < 1:
            if q == 0 or s <= w:
                return 1, w
            guess = math.log(s / w) / math.log(1 / q) if w > 0 else math.inf
            g = _smallest(lambda i: self._power(i) <= w, guess, 1, self.never)
            return (g if g is not None else self.never), w
        if s >= m:
            return 1, m
        guess = math.log(m / s) / math.log(q) if s > 0 else math.inf
        g = _smallest(lambda i: self._power(i) >= m, guess, 1, self.never)
        return (g if g is not None else self.never), m

    def total(self, n: int) -> float:
        """P(n) = S(1 - q^k)/(1 - q) + c·(n - k), with k = min(n, g) geometric terms."""
        k = min(n, self.g)
        if self.s == 0 or k == 0:
            geometric = 0.0
        elif self.q == 1:
            geometric = self.s * k
        elif self.q < 1:
            geometric = (self.s - self._power(k)) / (1 - self.q)
        else:
            # Same sum written with the last term S·q^(k-1) < M, so that a huge q cannot overflow.
            geometric = (self._power(k - 1) - self.s / self.q) / (1 - 1 / self.q)
        return geometric + self.c * (n - k)

    def first_fit(self, budget_mb: float, last: int) -> int | None:
        """Smallest i <= last after which pre-copy converges: s_{i+1} <= budget (= target × rate)."""
        def fits(i: int) -> bool:
            return self.size(i + 1) == 0 or _at_most(self.size(i + 1), budget_mb)

        if self.q >= 1 or self.w > budget_mb:
            # Sizes never shrink below the first next round (q >= 1) or below W: fits now or never.
            return 0 if fits(0) else None
        if self.s == 0 or self.q == 0 or self.s * self.q <= budget_mb:
            guess = 0.0
        else:
            # S·q^(i+1) <= B  <=>  i + 1 >= ln(S/B) / ln(1/q)
            guess = math.log(self.s / budget_mb) / math.log(1 / self.q) - 1
        return _smallest(fits, guess, 0, last)

    def first_reaching(self, limit_mb: float, last: int) -> int | None:
        """Smallest i <= last with P(i + 1) >= limit (the max-sent rule), from the inverted sum."""
        def reached(i: int) -> bool:
            return _at_most(limit_mb, self.total(i + 1))

        s, q = self.s, self.q
        n: float = math.inf
        if limit_mb <= 0:
            n = 1
        elif s > 0 and q == 1:
            n = limit_mb / s
        elif s > 0 and q > 1:
            n = math.log(1 + limit_mb * (q - 1) / s) / math.log(q)
        elif s > 0 and 0 < q < 1 and 1 - limit_mb * (1 - q) / s > 0:
            n = math.log(1 - limit_mb * (1 - q) / s) / math.log(q)
        if n > self.g and self.c > 0:
            # Past the geometric part the sum grows by c per round.
            n = self.g + (limit_mb - self.total(self.g)) / self.c
        return _smallest(reached, n - 1, 0, last)


@dataclass(frozen=True)
class _Plan:
    precopy_rounds: int
    precopy_sent_mb: float
    final_round_mb: float
    stop_reason: str


def _plan(limits: _Limits, first_mb: float, first_round: int, sent_before_mb: float, rate_mb_s: float) -> _Plan:
    """Rounds first_round, first_round+1, … at a constant rate, until a stop rule fires.

    ``first_mb`` is the size of round ``first_round`` and ``sent_before_mb`` is what earlier
    rounds sent. ``closed_form`` starts it at round 0. ``PreCopy.bytes_remaining`` starts it after
    the round in flight.
    """
    last = limits.max_rounds - 1 - first_round  # relative index of the last allowed pre-copy round
    sizes = _Sizes(first_mb, limits.dirty_mb_s / rate_mb_s, limits.working_set_mb, limits.touched_mb, last + 1)
    candidates = [
        (sizes.first_fit(limits.downtime_target_s * rate_mb_s, last), STOP_CONVERGED),
        (last, STOP_MAX_ROUNDS),
        (sizes.first_reaching(limits.max_sent_mb - sent_before_mb, last), STOP_MAX_SENT),
    ]
    # min() keeps the first of equal indices, so the order of the list is the tie-break.
    stop, reason = min(((i, r) for i, r in candidates if i is not None), key=lambda c: c[0])
    return _Plan(stop + 1, sizes.total(stop + 1), sizes.size(stop + 1), reason)


def closed_form(memory_mb: float, workload: Workload, bandwidth_mb_s: float, *, downtime_target_s: float = 2.0,
                resume_overhead_s: float = 0.5, max_rounds: int = 30,
                max_sent_factor: float = 3.0) -> TransferSummary:
    """The whole transfer at a constant bandwidth, from geometric-series formulas, without stepping.

    With M = touched, W = min(working set, M), q = dirty / bandwidth and budget B = target × bandwidth:
    s_0 = M and s_i = clip(M·q^i, W, M); pre-copy stops after the first round i whose next round fits
    (s_{i+1} <= B, i.e. i + 1 >= ln(M/B)/ln(1/q)), after max_rounds, or once the sum reaches
    max_sent_factor × memory. The stepped ``PreCopy`` at the same constant bandwidth gives the same result.
    """
    limits = _Limits.build(memory_mb, workload, downtime_target_s, resume_overhead_s, max_rounds, max_sent_factor)
    _check_number("bandwidth_mb_s", bandwidth_mb_s, positive=True)
    plan = _plan(limits, limits.touched_mb, 0, 0.0, float(bandwidth_mb_s))
    precopy_time = plan.precopy_sent_mb / bandwidth_mb_s
    window = plan.final_round_mb / bandwidth_mb_s + limits.resume_overhead_s
    return TransferSummary(
        rounds=plan.precopy_rounds + 1,
        precopy_rounds=plan.precopy_rounds,
        precopy_sent_mb=plan.precopy_sent_mb,
        final_round_mb=plan.final_round_mb,
        total_sent_mb=plan.precopy_sent_mb + plan.final_round_mb,
        precopy_time_s=precopy_time,
        suspend_window_s=window,
        total_time_s=precopy_time + window,
        converged=plan.stop_reason == STOP_CONVERGED,
        stop_reason=plan.stop_reason,
    )


def share_bandwidth(link_mb_s: float, n_active: int) -> float:
    """Equal share of one MSP pair's link for each of ``n_active`` concurrent active migrations.

    ``n_active`` counts every migration on the pair, the caller's own included. 0 is read as 1, so a
    migration about to start sees the whole link.
    """
    _check_number("link_mb_s", link_mb_s)
    if isinstance(n_active, bool) or not isinstance(n_active, int) or n_active < 0:
        raise ValueError(f"n_active must be an int >= 0, got {n_active!r}")
    return link_mb_s / max(n_active, 1)


class PreCopy:
    """One active migration's memory transfer, stepped by the caller.

    The caller calls ``advance(dt, bandwidth)`` with the share of the link this migration had during
    ``dt`` (see ``share_bandwidth``). One call may cross any number of round boundaries. A bandwidth of
    0 (a stalled link) lets time pass without sending anything. Pages keep getting dirtied during a
    stall, so the next round grows. Resuming needs no link, so a stall does not delay it.
    """

    def __init__(self, memory_mb: float, workload: Workload, *, downtime_target_s: float = 2.0,
                 resume_overhead_s: float = 0.5, max_rounds: int = 30, max_sent_factor: float = 3.0,
                 planning_bandwidth_mb_s: float = GBE_1_MB_S) -> None:
        self._limits = _Limits.build(memory_mb, workload, downtime_target_s, resume_overhead_s,
                                     max_rounds, max_sent_factor)
        _check_number("planning_bandwidth_mb_s", planning_bandwidth_mb_s, positive=True)
        self.workload = workload
        self.phase: str = PHASE_PRECOPY
        self.round: int = 0
        self.converged: bool | None = None
        self.stop_reason: str | None = None
        self.suspend_window_s: float | None = None
        self.precopy_time_s: float | None = None  # set when the partition is suspended
        self.elapsed_s: float = 0.0
        self.round_sizes_mb: list[float] = []  # sizes of the rounds already sent, in order
        self._round_mb = self._limits.touched_mb  # size of the round in flight
        self._round_sent_mb = 0.0
        self._round_elapsed_s = 0.0
        self._completed_mb = 0.0  # sum of round_sizes_mb, kept exact rather than summed from dt steps
        self._resume_left_s: float | None = None  # set while the partition resumes on the destination
        # The rate for the bytes_remaining estimate: the last non-zero bandwidth seen, or the planning figure before any.
        self._rate_hint = float(planning_bandwidth_mb_s)

    # -- what lslparmigr shows ------------------------------------------------------------------

    @property
    def sent_mb(self) -> float:
        """MB sent so far: all finished rounds plus the part of the current one."""
        return self._completed_mb + self._round_sent_mb

    @property
    def bytes_transmitted(self) -> int:
        """Bytes sent so far. Never decreases: the floor of a non-decreasing sum."""
        return int(self.sent_mb * BYTES_PER_MB)

    @property
    def bytes_remaining(self) -> int:
        """What ``lslparmigr`` prints as ``bytes_remaining``: partition memory still to be sent in this pass.

        IBM describes the field as the memory of the partition that remains to be transmitted, so it is
        bounded by the partition's memory: at the start it is the memory the partition uses (round 0), during
        each later pre-copy round the pages dirtied since they were sent, and once suspended the rest of the
        final round. It may rise between rounds (pages dirtied again); it is not a forecast of the total.
        """
        return max(0, round((self._round_mb - self._round_sent_mb) * BYTES_PER_MB))

    @property
    def projected_remaining_bytes(self) -> int:
        """Estimate of what is left to send: the rest of this round plus the rounds still planned.

        During pre-copy, the estimate projects the plan at the last bandwidth seen. It first works out
        how this round will end, then uses the ``closed_form`` formulas for what follows. At a constant
        bandwidth, bytes_transmitted + bytes_remaining therefore stays equal to the plan's total, and the
        percentage of progress only rises. When the bandwidth changes, the estimate moves, and a
        percentage shown to a person should be the maximum so far. Once the partition is suspended,
        the estimate is the exact rest of the final round. It is 0 from then on once everything is sent.
        """
        return max(0, round(self._remaining_mb() * BYTES_PER_MB))

    @property
    def total_time_s(self) -> float | None:
        return self.elapsed_s if self.phase == PHASE_DONE else None

    def _remaining_mb(self) -> float:
        left_in_round = self._round_mb - self._round_sent_mb  # 0 once the final round is sent
        if self.phase != PHASE_PRECOPY:
            return left_in_round
        rate = self._rate_hint
        duration = self._round_elapsed_s + left_in_round / rate
        sent_after = self._completed_mb + self._round_mb
        next_mb = self._limits.next_round_mb(duration)
        if self._limits.stop_reason(self.round, sent_after, next_mb, self._round_mb, duration) is not None:
            return left_in_round + next_mb
        tail = _plan(self._limits, next_mb, self.round + 1, sent_after, rate)
        return left_in_round + tail.precopy_sent_mb + tail.final_round_mb

    # -- time ---------------------------------------------------------------------------------------

    def advance(self, dt_s: float, bandwidth_mb_s: float) -> None:
        """Move simulated time forward by ``dt_s`` seconds at ``bandwidth_mb_s`` for this migration."""
        _check_number("dt_s", dt_s)
        _check_number("bandwidth_mb_s", bandwidth_mb_s)
        if bandwidth_mb_s > 0:
            self._rate_hint = float(bandwidth_mb_s)
        left = float(dt_s)
        # Each pass either uses up all of `left` or finishes a round or the resume. There are at
        # most max_rounds + 1 rounds, so the loop ends.
        while self.phase != PHASE_DONE:
            if self._resume_left_s is not None:
                step = min(left, self._resume_left_s)
                self._resume_left_s -= step
                self.elapsed_s += step
                left -= step
                if self._resume_left_s > 0:
                    return
                self.phase = PHASE_DONE
                self._resume_left_s = None
                return
            to_send = self._round_mb - self._round_sent_mb
            if to_send > 0:
                if bandwidth_mb_s == 0 or to_send > bandwidth_mb_s * left:
                    self._round_sent_mb += bandwidth_mb_s * left
                    self._round_elapsed_s += left
                    self.elapsed_s += left
                    return
                step = to_send / bandwidth_mb_s
                self._round_elapsed_s += step
                self.elapsed_s += step
                left = max(0.0, left - step)
            self._finish_round()

    def _finish_round(self) -> None:
        size, duration = self._round_mb, self._round_elapsed_s
        self.round_sizes_mb.append(size)
        self._completed_mb += size
        self._round_sent_mb = 0.0
        self._round_elapsed_s = 0.0
        if self.phase == PHASE_SUSPENDED:
            self.suspend_window_s = duration + self._limits.resume_overhead_s
            self._round_mb = 0.0
            self._resume_left_s = self._limits.resume_overhead_s
            return
        next_mb = self._limits.next_round_mb(duration)
        reason = self._limits.stop_reason(self.round, self._completed_mb, next_mb, size, duration)
        self.round += 1
        self._round_mb = next_mb
        if reason is not None:
            self.phase = PHASE_SUSPENDED
            self.stop_reason = reason
            self.converged = reason == STOP_CONVERGED
            self.precopy_time_s = self.elapsed_s
