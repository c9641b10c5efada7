package io.handoffbroker.handoff;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Stops attempting handoffs to a backend that keeps failing them: after
 * {@code limit} failed attempts within a sliding {@code window}, new clients of
 * that backend take the reconnect route (fallback reason {@code rate_limited})
 * until old failures leave the window. Time is passed in. Thread-safe.
 */
public final class FailedAttemptLimiter {

    private final int limit;
    private final long windowNanos;
    private final Map<String, ArrayDeque<Long>> failures = new ConcurrentHashMap<>();

    public FailedAttemptLimiter(int limit, long windowNanos) {
        if (limit < 1) {
            throw new IllegalArgumentException("failed-attempt limit must be at least 1, got " + limit);
        }
        this.limit = limit;
        this.windowNanos = windowNanos;
    }

    /** True while the backend may be tried. */
    public boolean allows(String backend, long nowNanos) {
        ArrayDeque<Long> times = failures.get(backend);
        if (times == null) {
            return true;
        }
        synchronized (times) {
            prune(times, nowNanos);
            return times.size() < limit;
        }
    }

    public void recordFailure(String backend, long nowNanos) {
        ArrayDeque<Long> times = failures.computeIfAbsent(backend, b -> new ArrayDeque<>());
        synchronized (times) {
            prune(times, nowNanos);
            times.addLast(nowNanos);
        }
    }

    /** Failures of the backend still inside the window. */
    public int recentFailures(String backend, long nowNanos) {
        ArrayDeque<Long> times = failures.get(backend);
        if (times == null) {
            return 0;
        }
        synchronized (times) {
            prune(times, nowNanos);
            return times.size();
        }
    }

    private void prune(ArrayDeque<Long> times, long nowNanos) {
        while (!times.isEmpty() && nowNanos - times.peekFirst() >= windowNanos) {
            times.pollFirst();
        }
    }
}
