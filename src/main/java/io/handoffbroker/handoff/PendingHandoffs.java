package io.handoffbroker.handoff;

import io.handoffbroker.wire.HandoffToken;
import java.security.SecureRandom;
import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one-time tokens of handoffs in flight, keyed by correlation id (the
 * connection id). Bounded: at most {@code maxPending} at once, each living at most
 * {@code ttlNanos}; a token is consumed exactly once by a timely acceptance and
 * revoked on every other path. Time is passed in.
 *
 * <p>Thread-safe: the event loop issues; the event loop and the handoff workers
 * consume and revoke.
 */
public final class PendingHandoffs {

    /** What {@link #consume} found. */
    public enum Consumption {
        /** The token matched and was pending, and the ACK came before the deadline: the handoff succeeded. */
        CONSUMED,
        /** The ACK came after the deadline (or after the TTL): never honoured. */
        LATE,
        /** No such pending handoff (revoked, consumed already, or never issued). */
        UNKNOWN,
        /** The token does not match the one issued. */
        MISMATCH
    }

    private record Pending(HandoffToken token, long ackDeadlineNanos, long expiresNanos) {
    }

    private final SecureRandom random;
    private final int maxPending;
    private final long ttlNanos;
    private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
    private final AtomicInteger size = new AtomicInteger();

    public PendingHandoffs(SecureRandom random, int maxPending, long ttlNanos) {
        if (maxPending < 1) {
            throw new IllegalArgumentException("max pending tokens must be at least 1, got " + maxPending);
        }
        if (ttlNanos <= 0) {
            throw new IllegalArgumentException("token TTL must be positive, got " + ttlNanos + " ns");
        }
        this.random = random;
        this.maxPending = maxPending;
        this.ttlNanos = ttlNanos;
    }

    /**
     * Issues a fresh token for the correlation id, or nothing when the pending set is
     * full even after expired tokens were swept (the caller falls back: fd_pressure).
     */
    public Optional<HandoffToken> issue(long correlationId, long ackDeadlineNanos, long nowNanos) {
        if (size.get() >= maxPending) {
            sweepExpired(nowNanos);
        }
        if (size.incrementAndGet() > maxPending) {
            size.decrementAndGet();
            return Optional.empty();
        }
        HandoffToken token = HandoffToken.generate(random);
        if (pending.putIfAbsent(correlationId, new Pending(token, ackDeadlineNanos, nowNanos + ttlNanos)) != null) {
            size.decrementAndGet();
            throw new IllegalStateException("correlation id " + correlationId + " already has a pending handoff");
        }
        return Optional.of(token);
    }

    /** Consumes the token if the ACK is timely and matches; anything else leaves nothing pending but a mismatch. */
    public Consumption consume(long correlationId, byte[] echoedToken, long ackObservedNanos) {
        Pending entry = pending.get(correlationId);
        if (entry == null) {
            return Consumption.UNKNOWN;
        }
        if (!entry.token().matches(echoedToken)) {
            return Consumption.MISMATCH;
        }
        if (!pending.remove(correlationId, entry)) {
            return Consumption.UNKNOWN;
        }
        size.decrementAndGet();
        boolean timely = ackObservedNanos - entry.ackDeadlineNanos() <= 0 && ackObservedNanos - entry.expiresNanos() < 0;
        return timely ? Consumption.CONSUMED : Consumption.LATE;
    }

    /** Revokes the token of the correlation id, if still pending. Idempotent. */
    public void revoke(long correlationId) {
        if (pending.remove(correlationId) != null) {
            size.decrementAndGet();
        }
    }

    /** Drops every token past its TTL; returns how many. */
    public int sweepExpired(long nowNanos) {
        int swept = 0;
        for (Iterator<Map.Entry<Long, Pending>> it = pending.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Pending> e = it.next();
            if (nowNanos - e.getValue().expiresNanos() >= 0 && pending.remove(e.getKey(), e.getValue())) {
                size.decrementAndGet();
                swept++;
            }
        }
        return swept;
    }

    public int size() {
        return size.get();
    }
}
