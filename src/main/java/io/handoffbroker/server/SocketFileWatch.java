package io.handoffbroker.server;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checks, once per interval on a thread of its own, that the broker's socket path still names
 * the socket its listener bound (the same device, inode and creation time; see
 * {@link BrokerServer#socketFileIsOurs()}). A cleaner of temporary files that removes the file,
 * or anything that puts another file or socket there, leaves a listener no new client can find:
 * the broker looks healthy from inside and is unreachable for good.
 *
 * <p>Such a loss is logged once at WARN and reported to {@code lost}; should the path name the
 * listener's socket again (the file was moved away and back), that is logged at INFO and
 * reported to {@code back}. Nothing is checked while the broker is not listening (before its
 * start, after its event loop failed) or draining: the drain removes the file itself.
 *
 * <p>One {@code stat} of the path per interval, off the event loop: it costs the Hello and
 * handoff paths nothing.
 */
public final class SocketFileWatch implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(SocketFileWatch.class);

    /** How often the path is checked. */
    public static final Duration INTERVAL = Duration.ofSeconds(1);

    private final BrokerServer server;
    private final Duration interval;
    private final Runnable lost;
    private final Runnable back;
    private boolean reportedLost; // under this object's lock
    private @Nullable ScheduledExecutorService scheduler;

    /**
     * @param lost run once when the path stops naming the listener's socket
     * @param back run once when it names it again after a loss
     */
    public SocketFileWatch(BrokerServer server, Duration interval, Runnable lost, Runnable back) {
        this.server = Objects.requireNonNull(server);
        this.interval = Objects.requireNonNull(interval);
        this.lost = Objects.requireNonNull(lost);
        this.back = Objects.requireNonNull(back);
    }

    /** Checks every interval from now on, on the daemon thread {@code broker-socket-watch}. */
    public synchronized void start() {
        if (scheduler == null) {
            ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(
                    Thread.ofPlatform().name("broker-socket-watch").daemon(true).factory());
            s.scheduleWithFixedDelay(this::checkSafely, interval.toMillis(), interval.toMillis(),
                    TimeUnit.MILLISECONDS);
            scheduler = s;
        }
    }

    /** One check, on the caller's thread. */
    public synchronized void check() {
        if (!server.isListening() || server.isDraining()) {
            return;
        }
        boolean ours = server.socketFileIsOurs();
        // Read again after the file: a drain that began meanwhile may have removed it, and a loop
        // that failed meanwhile is reported by its own way.
        if (server.isDraining() || !server.isListening()) {
            return;
        }
        if (!ours && !reportedLost) {
            reportedLost = true;
            log.warn("socket file {} no longer names this broker's listening socket (removed or replaced): no new "
                    + "client can connect; liveness is now BROKEN so that the broker is restarted", server.socketPath());
            lost.run();
        } else if (ours && reportedLost) {
            reportedLost = false;
            log.info("socket file {} names this broker's listening socket again; liveness is CORRECT again",
                    server.socketPath());
            back.run();
        }
    }

    private void checkSafely() {
        try {
            check();
        } catch (RuntimeException e) {
            log.error("socket file check failed", e);
        }
    }

    /** Stops checking; waits for a check under way to end. */
    @Override
    public void close() {
        ScheduledExecutorService s;
        synchronized (this) {
            s = scheduler;
            scheduler = null;
        }
        if (s != null) {
            s.shutdownNow();
            try {
                s.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
