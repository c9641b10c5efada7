package io.handoffbroker.handoff;

import io.handoffbroker.wire.FrameTooLongException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.unix.Selection;
import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches control connections whose ACK deadline passed, for the grace period, to
 * tell a late ACK from a missing one (protocol section 3). The handoff itself was
 * already abandoned; nothing seen here is ever honoured. Each watched connection
 * ends in exactly one verdict, {@link AckResult#LATE} when a complete frame
 * arrives in time, {@link AckResult#MISSING} on silence, close or garbage, and is
 * then closed: its stream is never trusted again.
 *
 * <p>One daemon thread and one selector for all of them, so a broken backend
 * costs a descriptor for at most the grace period and no thread.
 */
public final class LateAckWatcher implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(LateAckWatcher.class);
    static final String THREAD_NAME = "broker-late-ack-watch";

    private record Watch(ControlConnection connection, long graceEndsNanos, Consumer<AckResult> verdict) {
    }

    private final long graceNanos;
    private final Selector selector;
    private final Queue<Watch> incoming = new ConcurrentLinkedQueue<>();
    private final List<Watch> watching = new ArrayList<>();
    // Started by the first watch: a broker whose handoffs never miss a deadline (or that has
    // handoff switched off) runs no watcher thread at all.
    private @Nullable Thread thread;
    private volatile boolean running = true;

    public LateAckWatcher(long graceNanos, Selector selector) {
        this.graceNanos = graceNanos;
        this.selector = selector;
    }

    /**
     * Takes ownership of a quarantined connection; {@code verdict} is called once, on the watcher
     * thread, or on the caller's at once (MISSING) once the watcher is closed.
     */
    public void watch(ControlConnection connection, Consumer<AckResult> verdict) {
        incoming.add(new Watch(connection, System.nanoTime() + graceNanos, verdict));
        if (!running) {
            // Closed: its thread may have ended, and nobody would watch this one or close it.
            finishIncomingMissing();
            return;
        }
        startOnce();
        selector.wakeup();
    }

    private synchronized void startOnce() {
        if (thread == null && running) { // a close() that found no thread ends what was handed over itself
            thread = Thread.ofPlatform().name(THREAD_NAME).daemon(true).start(this::run);
        }
    }

    /** Whether the watcher thread was ever started. */
    synchronized boolean started() {
        return thread != null;
    }

    private void run() {
        while (running) {
            try {
                Watch w;
                while ((w = incoming.poll()) != null) {
                    start(w);
                }
                long now = System.nanoTime();
                long next = Long.MAX_VALUE;
                for (Watch each : watching) {
                    next = Math.min(next, each.graceEndsNanos() - now);
                }
                Selection.select(selector, next);
                for (SelectionKey key : selector.selectedKeys()) {
                    readReady((Watch) key.attachment());
                }
                selector.selectedKeys().clear();
                expire(System.nanoTime());
            } catch (IOException | RuntimeException e) {
                if (running) {
                    log.error("late-ACK watcher failed an iteration", e);
                }
            }
        }
        // finish() removes from watching: iterate over a copy.
        for (Watch w : List.copyOf(watching)) {
            finish(w, AckResult.MISSING);
        }
        finishIncomingMissing();
    }

    /**
     * Watches handed over but never started end MISSING: nobody will watch them any more. Any
     * thread: such a watch was never registered, so only its connection and verdict are touched.
     */
    private void finishIncomingMissing() {
        Watch w;
        while ((w = incoming.poll()) != null) {
            conclude(w, AckResult.MISSING);
        }
    }

    // One connection that cannot be watched (closed, say) ends MISSING at once: it must neither
    // go without its verdict nor keep the others waiting for theirs.
    private void start(Watch w) {
        watching.add(w);
        try {
            w.connection().channel().register(selector, SelectionKey.OP_READ, w);
        } catch (IOException | RuntimeException unwatchable) {
            log.debug("control connection cannot be watched: {}", unwatchable.toString());
            finish(w, AckResult.MISSING);
        }
    }

    private void readReady(Watch w) {
        if (!watching.contains(w)) {
            return;
        }
        try {
            Frame frame = w.connection().decoder().readReported(w.connection().channel());
            if (frame != null) {
                finish(w, AckResult.LATE);
            }
        } catch (FrameTooLongException tooLong) {
            // A frame the protocol allows, longer than this broker reads: the backend did answer,
            // late, and "late" is what tells the operator to look at its speed, not its health.
            finish(w, tooLong.announcedLength() <= WireProtocol.MAX_FRAME_BODY ? AckResult.LATE : AckResult.MISSING);
        } catch (IOException closedOrGarbage) {
            finish(w, AckResult.MISSING);
        }
    }

    private void expire(long now) {
        for (Watch w : new ArrayList<>(watching)) {
            if (w.graceEndsNanos() - now <= 0) {
                finish(w, AckResult.MISSING);
            }
        }
    }

    private void finish(Watch w, AckResult result) {
        watching.remove(w);
        SelectionKey key = w.connection().channel().keyFor(selector);
        if (key != null) {
            key.cancel();
        }
        conclude(w, result);
    }

    private static void conclude(Watch w, AckResult result) {
        w.connection().close();
        try {
            w.verdict().accept(result);
        } catch (RuntimeException e) {
            log.error("late-ACK verdict callback failed", e);
        }
    }

    @Override
    public void close() {
        Thread watcher;
        synchronized (this) {
            running = false;
            watcher = thread;
        }
        selector.wakeup();
        if (watcher == null) {
            // Never started: whatever was handed over (nothing, unless a watch raced this close) ends here.
            finishIncomingMissing();
        } else {
            try {
                watcher.join(2_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            selector.close();
        } catch (IOException ignored) {
            // Nothing left registered.
        }
    }
}
