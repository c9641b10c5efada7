package io.handoffbroker.unix;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A warning that a flood of events would repeat, such as connections refused at a socket:
 * given at most once per interval, with how many events there were since the last one. The
 * first event warns at once; events held back are warned of when the interval ends, with the
 * last one's warning, so that a burst that stops is still counted whole. Safe to count from
 * several threads.
 *
 * <p>The end of an interval is kept by one daemon thread, {@code throttled-warnings}, shared
 * by every instance and started on first need. A process that exits before an interval ends
 * does not give the warnings held back in it.
 */
public final class ThrottledWarning {

    /** How often at most the broker and the SDKs repeat such a warning: once every 10 s. */
    public static final Duration INTERVAL = Duration.ofSeconds(10);

    private static final Logger log = LoggerFactory.getLogger(ThrottledWarning.class);
    // Made with this class, so that nothing is left to load when a warning is first held back (a
    // process out of descriptors may not read a class file then); its thread starts on first use.
    private static final ScheduledExecutorService INTERVAL_ENDS = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().name("throttled-warnings").daemon(true).factory());

    private final long intervalNanos;
    private long warnedAt;
    private long sinceWarned;
    // The latest held-back event's warning, given when the interval ends unless an event came after it.
    private @Nullable LongConsumer heldBack;
    private boolean endScheduled;

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
            long left = warnedAt + intervalNanos - now;
            if (left > 0) {
                heldBack = warn;
                if (!endScheduled) {
                    INTERVAL_ENDS.schedule(this::intervalEnded, left, TimeUnit.NANOSECONDS);
                    endScheduled = true;
                }
                return;
            }
            due = takeDue(now);
        }
        warn.accept(due); // outside the lock: a logger may block
    }

    private void intervalEnded() {
        LongConsumer warn;
        long due;
        synchronized (this) {
            warn = heldBack;
            if (warn == null || sinceWarned == 0) {
                endScheduled = false;
                return; // an event after the interval warned of them already
            }
            long now = System.nanoTime();
            long left = warnedAt + intervalNanos - now;
            if (left > 0) {
                // An event warned at the end of the last interval, just before this ran, and began a
                // new one: those held back since wait for its end.
                INTERVAL_ENDS.schedule(this::intervalEnded, left, TimeUnit.NANOSECONDS);
                return;
            }
            endScheduled = false;
            due = takeDue(now);
        }
        try {
            warn.accept(due);
        } catch (RuntimeException | Error e) {
            log.error("a held-back warning could not be given", e);
        }
    }

    private long takeDue(long now) {
        long due = sinceWarned;
        warnedAt = now;
        sinceWarned = 0;
        heldBack = null;
        return due;
    }
}
