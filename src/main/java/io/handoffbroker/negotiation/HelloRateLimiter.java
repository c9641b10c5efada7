package io.handoffbroker.negotiation;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * Fixed-window Hello counter per peer: at most {@code limit} Hellos per peer in
 * each window. A refused Hello learns how long until its window ends, which is
 * what {@code Refused.retry_after_ms} carries.
 *
 * <p>Windows of peers that stopped sending are swept once per window, so the map
 * holds at most the peers seen in the last two windows. Not thread-safe: the
 * event loop that reads Hellos is its only caller.
 */
public final class HelloRateLimiter {

    private final int limit;
    private final long windowNanos;
    private final Map<Long, Window> windows = new HashMap<>();
    private long nextSweepNanos;

    public HelloRateLimiter(int limit, long windowNanos) {
        if (limit < 1) {
            throw new IllegalArgumentException("rate limit must be at least 1 Hello per window, got " + limit);
        }
        if (windowNanos <= 0) {
            throw new IllegalArgumentException("rate-limit window must be positive, got " + windowNanos + " ns");
        }
        this.limit = limit;
        this.windowNanos = windowNanos;
    }

    /**
     * Counts one Hello of the peer.
     *
     * @return 0 when the Hello may proceed, otherwise the milliseconds until the
     *     peer's window ends (at least 1)
     */
    public long acquire(long peerKey, long nowNanos) {
        sweep(nowNanos);
        Window window = windows.get(peerKey);
        if (window == null || nowNanos - window.startNanos >= windowNanos) {
            window = new Window(nowNanos);
            windows.put(peerKey, window);
        }
        if (window.count < limit) {
            window.count++;
            return 0;
        }
        long leftNanos = window.startNanos + windowNanos - nowNanos;
        return Math.max(1, (leftNanos + 999_999) / 1_000_000);
    }

    /** Peers with a live window, for tests and status. */
    public int trackedPeers() {
        return windows.size();
    }

    private void sweep(long nowNanos) {
        if (nowNanos - nextSweepNanos < 0) {
            return;
        }
        nextSweepNanos = nowNanos + windowNanos;
        for (Iterator<Window> it = windows.values().iterator(); it.hasNext(); ) {
            if (nowNanos - it.next().startNanos >= windowNanos) {
                it.remove();
            }
        }
    }

    private static final class Window {
        final long startNanos;
        int count;

        Window(long startNanos) {
            this.startNanos = startNanos;
        }
    }
}
