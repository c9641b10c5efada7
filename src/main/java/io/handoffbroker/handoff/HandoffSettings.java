package io.handoffbroker.handoff;

import java.time.Duration;

/**
 * The handoff's deadlines and bounds, validated by the configuration layer.
 *
 * @param enabled master switch; off means every client takes the reconnect route
 * @param ackDeadline how long the broker waits for a backend's ACK before it abandons the handoff
 * @param ackGracePeriod how long after the deadline a control connection is still watched,
 *     to tell a late ACK from a missing one
 * @param tokenTtl the longest a token may stay pending, whatever happens
 * @param maxPendingTokens handoffs in flight at most; beyond it clients fall back (fd_pressure)
 * @param failedAttemptLimit failed handoffs per backend within the window before it is skipped (rate_limited)
 * @param failedAttemptWindow the window of that limit
 * @param workers threads that run deliveries
 * @param pool the control-connection pool per handoff endpoint
 */
public record HandoffSettings(boolean enabled, Duration ackDeadline, Duration ackGracePeriod, Duration tokenTtl,
        int maxPendingTokens, int failedAttemptLimit, Duration failedAttemptWindow, int workers,
        PoolSettings pool) {

    public HandoffSettings {
        if (ackDeadline.isNegative() || ackDeadline.isZero()) {
            throw new IllegalArgumentException("ACK deadline must be positive, got " + ackDeadline);
        }
        if (tokenTtl.compareTo(ackDeadline) < 0) {
            throw new IllegalArgumentException(
                    "token TTL (" + tokenTtl + ") must be at least the ACK deadline (" + ackDeadline + ")");
        }
        if (workers < 1) {
            throw new IllegalArgumentException("handoff workers must be at least 1, got " + workers);
        }
    }
}
