package io.handoffbroker.handoff;

import java.time.Duration;

/**
 * Sizing of the control-connection pool of each handoff endpoint.
 *
 * @param maxSize control connections per endpoint at most, idle and in use together
 * @param minIdle connections kept dialled and idle per endpoint, so a handoff does not pay a dial
 * @param borrowTimeout how long a handoff waits for a free connection before falling back
 * @param dialTimeout how long one dial may take
 * @param maintenanceInterval how often idle connections are checked and the minimum is refilled
 */
public record PoolSettings(int maxSize, int minIdle, Duration borrowTimeout, Duration dialTimeout,
        Duration maintenanceInterval) {

    public PoolSettings {
        if (maxSize < 1) {
            throw new IllegalArgumentException("pool max size must be at least 1, got " + maxSize);
        }
        if (minIdle < 0 || minIdle > maxSize) {
            throw new IllegalArgumentException("pool min idle must be within 0.." + maxSize + ", got " + minIdle);
        }
    }
}
