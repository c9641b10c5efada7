package io.handoffbroker.unix;

import java.time.Duration;
import java.util.function.LongConsumer;

/**
 * A warning that a flood of events would repeat, such as connections refused at a socket:
 * given at most once per interval, with how many events there were since the last one. The
 * first event warns at once. Safe to count from several threads.
 */
public final class ThrottledWarning {

    /** How often at most the broker and the SDKs repeat such a warning: once every 10 s. */
    public static final Duration INTERVAL = Duration.ofSeconds(10);

    private final long intervalNanos;
    private long warnedAt;
    private long sinceWarned;

    /** Warns at most once every {@link #INTERVAL}. */
    public ThrottledWarning() {
        this(INTERVAL);
    }

    public ThrottledWarning(Duration interval) {
        this.intervalNanos = interval.toNanos();
        this.warnedAt = System.nanoTime() - intervalNanos;
    }

    /** Counts one event; calls {@code warn} with the events since the last warning when one is due. */
    public void count(LongConsumer warn) {
        long due;
        synchronized (this) {
            sinceWarned++;
            long now = System.nanoTime();
            if (now - warnedAt < intervalNanos) {
                return;
            }
            warnedAt = now;
            due = sinceWarned;
            sinceWarned = 0;
        }
        warn.accept(due); // outside the lock: a logger may block
    }
}
