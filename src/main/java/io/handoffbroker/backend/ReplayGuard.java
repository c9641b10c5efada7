package io.handoffbroker.backend;

import io.handoffbroker.wire.HandoffToken;
import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;

/**
 * Remembers the handoff tokens a backend consumed, so a replayed offer is
 * refused. Bounded by count and age (time passed in); thread-safe.
 */
final class ReplayGuard {

    private record Seen(HandoffToken token, long atNanos) {
    }

    private final int capacity;
    private final long retentionNanos;
    private final ArrayDeque<Seen> order = new ArrayDeque<>();
    private final Set<HandoffToken> seen = new HashSet<>();

    ReplayGuard(int capacity, long retentionNanos) {
        this.capacity = capacity;
        this.retentionNanos = retentionNanos;
    }

    /** Records the token; false when it was consumed before (a replay). */
    synchronized boolean consume(HandoffToken token, long nowNanos) {
        while (!order.isEmpty() && nowNanos - order.peekFirst().atNanos() >= retentionNanos) {
            seen.remove(order.pollFirst().token());
        }
        // Checked before room is made: making room first forgot the oldest token, and let its replay
        // through whenever the guard was full.
        if (seen.contains(token)) {
            return false;
        }
        if (order.size() >= capacity) {
            seen.remove(order.pollFirst().token());
        }
        seen.add(token);
        order.addLast(new Seen(token, nowNanos));
        return true;
    }
}
