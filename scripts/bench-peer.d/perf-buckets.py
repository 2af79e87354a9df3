#!/usr/bin/env python3
"""Sorts the samples of a `perf record -g` profile of our server into cost buckets.

    perf script --no-inline -F comm,tid,ip,sym,dso -i perf.data | perf-buckets.py [REQUESTS]

Prints two views of the same samples:
- self: each sample goes to the bucket of its innermost frame that matches one (so a
  `malloc` called by serde_json counts as allocation, and kernel time as kernel);
- inclusive: the share of samples with at least one frame of a layer anywhere on the stack
  (a layer's own work plus everything it calls; the rows overlap and do not add up).
With REQUESTS (the requests served while recording) it also gives CPU µs per request,
taking every sample as 1/F s with F from the header line `# frequency: F` if perf wrote it,
otherwise from the PERF_FREQ environment variable.
"""

import collections
import os
import re
import sys

def syscall_name(frames):
    """The system call a kernel stack serves: the frame just inside `do_syscall_64`."""
    for i, frame in enumerate(frames):
        if frame.startswith("do_syscall_64") and i > 0:
            name = frames[i - 1].split("+", 1)[0].split(" ", 1)[0]
            return re.sub(r"^(__x64_sys_|__ia32_sys_|__sys_|ksys_|do_)", "", name)
    return None


# Innermost match wins; the order only breaks ties within one frame.
SELF_BUCKETS = [
    ("allocation (malloc/free)", r"malloc|calloc|realloc|\bfree\b|cfree|_int_free|tcache|arena_|alloc::alloc|__rust_(alloc|dealloc|realloc)"),
    ("memcpy/memmove/memset", r"__mem(cpy|move|set)|memcpy|memmove|memset"),
    ("tracing", r"\btracing(_core|_subscriber)?::"),
    ("redis-rs (parse, multiplexer)", r"\bredis::|\bcombine::"),
    ("JSON (serde_json)", r"\bserde_json::|\bserde::"),
    ("hyper/http", r"\bhyper(_util)?::|\bhttp::|\bhttparse::|\bbytes::"),
    ("axum/tower routing", r"\baxum(_core)?::|\btower(_http|_service)?::|\bmatchit::"),
    ("tokio runtime", r"\btokio::|\bmio::|parking_lot|\bstd::sys::.*(futex|thread)"),
    ("futures/channels", r"\bfutures_(util|channel|core)::|\bpin_project"),
    ("our code (cache, lambdas)", r"\bcache::|\blambdas::|\baurora::"),
    ("libc other", r"libc[.-]"),
]

INCLUSIVE_LAYERS = [
    ("kernel (system calls and interrupts)", r"\[kernel"),
    ("HTTP server outside the app (hyper read/parse/write, their syscalls)", None),
    ("redis-rs: whole client side", r"\bredis::"),
    ("redis-rs: multiplexed connection task (pipeline, sink/stream)", r"\bredis::aio::multiplexed_connection::"),
    ("axum: router + middleware", r"\baxum::routing::|\baxum::middleware::"),
    ("lambdas::router::invocation (our middleware)", r"\blambdas::router::invocation"),
    ("lambdas::routes::vendors::get_vendor", r"\blambdas::routes::vendors::get_vendor"),
    ("lambdas::routes::vendors::search", r"\blambdas::routes::vendors::search"),
    ("cache: VendorCache::get_profiles", r"\bcache::vendor::VendorCache::get_profiles"),
    ("cache: VendorCache::search", r"\bcache::vendor::VendorCache::search"),
    ("cache: breaker (guarded)", r"\bcache::aside::Cache::guarded|\bcache::breaker::"),
    ("cache: command timeout (tokio::time)", r"\btokio::time::"),
    ("serde_json: serialize", r"\bserde_json::ser::|serde_json::value::ser"),
    ("serde_json: deserialize", r"\bserde_json::de::|serde_json::value::de"),
    ("tracing (spans, events, filters)", r"\btracing(_core|_subscriber)?::"),
    ("tokio: park, I/O driver, wake-ups", r"\btokio::runtime::(park|io::driver|driver)|::wake_by_(ref|val)|schedule_task|::unpark"),
    ("allocation (malloc/free)", SELF_BUCKETS[0][1]),
]


def samples(lines):
    """Yields the frames ("symbol (dso)") of each sample, innermost first."""
    frames = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        if line.startswith((" ", "\t")):
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else parts[0])
        # a header line (tid ...) starts a sample; nothing to keep from it
    if frames:
        yield frames


def main():
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    freq = float(os.environ.get("PERF_FREQ", "0") or 0)
    self_re = [(name, re.compile(rx)) for name, rx in SELF_BUCKETS]
    incl_re = [(name, re.compile(rx) if rx else None) for name, rx in INCLUSIVE_LAYERS]
    app = re.compile(r"\baxum::routing::|\baxum::middleware::")
    self_counts = collections.Counter()
    incl_counts = collections.Counter()
    leaf_syms = collections.Counter()
    total = 0
    for frames in samples(sys.stdin):
        total += 1
        leaf_syms[frames[0]] += 1
        bucket = "unattributed"
        if "[kernel" in frames[0]:
            # Name kernel time after the system call it serves (or the interrupt).
            call = syscall_name(frames)
            bucket = f"kernel: {call}" if call else "kernel: interrupts and other"
            frames_for_self = []
        else:
            frames_for_self = frames
        for frame in frames_for_self:
            hit = next((name for name, rx in self_re if rx.search(frame)), None)
            if hit:
                bucket = hit
                break
        self_counts[bucket] += 1
        stack = "\n".join(frames)
        for name, rx in incl_re:
            if rx is None:
                # The app runs inside hyper's poll: only samples outside the router count.
                if "hyper::" in stack and not app.search(stack):
                    incl_counts[name] += 1
            elif rx.search(stack):
                incl_counts[name] += 1
    if total == 0:
        sys.exit("perf-buckets: no samples on stdin")

    def row(name, n):
        pct = 100.0 * n / total
        us = f"  {n / freq * 1e6 / requests:6.2f} µs/req" if requests and freq else ""
        return f"  {pct:5.1f} %{us}  {name}"

    print(f"{total} samples" + (f", {requests} requests, {freq:g} Hz" if requests and freq else ""))
    print("self (innermost matching frame):")
    for name, n in self_counts.most_common():
        print(row(name, n))
    print("inclusive (on the stack anywhere):")
    for name, _ in INCLUSIVE_LAYERS:
        print(row(name, incl_counts[name]))
    print("hottest innermost frames:")
    for name, n in leaf_syms.most_common(25):
        print(row(name[:140], n))


if __name__ == "__main__":
    main()
