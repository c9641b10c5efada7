package io.handoffbroker.testing;

import io.handoffbroker.handoff.AckResult;
import io.handoffbroker.handoff.HandoffEvents;
import io.handoffbroker.negotiation.ServiceBackend;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * Records what a {@link io.handoffbroker.handoff.HandoffOrchestrator} reports.
 * Thread-safe: the orchestrator calls it from the event loop, delivery workers and
 * the late-ACK watcher. Every event keeps its {@link System#nanoTime()} so tests can
 * check when a verdict was reached, not only which.
 */
public final class RecordingHandoffEvents implements HandoffEvents {

    /** One event, in the order it was reported. */
    public record Event(String kind, long connectionId, String value, String detail, long atNanos) {
    }

    /** A control connection the pool closed unused: its listener ran as a uid the backend does not allow. */
    public record EndpointRejection(String backend, long peerUid, long peerPid) {
    }

    private final List<Event> events = new CopyOnWriteArrayList<>();
    private final List<EndpointRejection> endpointRejections = new CopyOnWriteArrayList<>();
    private final Map<String, AtomicInteger> fallbacks = new ConcurrentHashMap<>();
    private final Map<AckResult, AtomicInteger> ackResults = new ConcurrentHashMap<>();
    private final AtomicInteger handedOff = new AtomicInteger();

    @Override
    public void handedOff(ServiceBackend backend, long connectionId, long durationNanos) {
        handedOff.incrementAndGet();
        events.add(new Event("handed_off", connectionId, backend.label(), "", System.nanoTime()));
    }

    @Override
    public void fellBack(ServiceBackend backend, long connectionId, String reason, String detail) {
        fallbacks.computeIfAbsent(reason, r -> new AtomicInteger()).incrementAndGet();
        events.add(new Event("fallback", connectionId, reason, detail, System.nanoTime()));
    }

    @Override
    public void ackResult(ServiceBackend backend, long connectionId, AckResult result) {
        ackResults.computeIfAbsent(result, r -> new AtomicInteger()).incrementAndGet();
        events.add(new Event("ack", connectionId, result.name(), "", System.nanoTime()));
    }

    @Override
    public void handoffEndpointRejected(ServiceBackend backend, long peerUid, long peerPid) {
        endpointRejections.add(new EndpointRejection(backend.label(), peerUid, peerPid));
    }

    /** The dialled control connections closed unused for their listener's uid, in order (not among {@link #all}). */
    public List<EndpointRejection> endpointRejections() {
        return List.copyOf(endpointRejections);
    }

    public int handedOff() {
        return handedOff.get();
    }

    public int fallbacks(String reason) {
        AtomicInteger n = fallbacks.get(reason);
        return n == null ? 0 : n.get();
    }

    public int ackResults(AckResult result) {
        AtomicInteger n = ackResults.get(result);
        return n == null ? 0 : n.get();
    }

    /** Fallback counts by reason, sorted, for assertions and failure messages. */
    public Map<String, Integer> fallbackCounts() {
        Map<String, Integer> out = new TreeMap<>();
        fallbacks.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /** ACK result counts, for assertions and failure messages. */
    public Map<AckResult, Integer> ackCounts() {
        Map<AckResult, Integer> out = new TreeMap<>();
        ackResults.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    public List<Event> all() {
        return List.copyOf(events);
    }

    public List<Event> of(long connectionId) {
        List<Event> out = new ArrayList<>();
        for (Event e : events) {
            if (e.connectionId() == connectionId) {
                out.add(e);
            }
        }
        return out;
    }

    public List<AckResult> ackResultsOf(long connectionId) {
        List<AckResult> out = new ArrayList<>();
        for (Event e : of(connectionId)) {
            if (e.kind().equals("ack")) {
                out.add(AckResult.valueOf(e.value()));
            }
        }
        return out;
    }

    public List<String> fallbackReasonsOf(long connectionId) {
        List<String> out = new ArrayList<>();
        for (Event e : of(connectionId)) {
            if (e.kind().equals("fallback")) {
                out.add(e.value());
            }
        }
        return out;
    }

    public boolean wasHandedOff(long connectionId) {
        return of(connectionId).stream().anyMatch(e -> e.kind().equals("handed_off"));
    }

    /** The first event of the kind for the connection, waiting at most {@code timeout}; null if none came. */
    public Event awaitEvent(long connectionId, String kind, Duration timeout) {
        Event[] found = new Event[1];
        awaitTrue(() -> {
            for (Event e : of(connectionId)) {
                if (e.kind().equals(kind)) {
                    found[0] = e;
                    return true;
                }
            }
            return false;
        }, timeout);
        return found[0];
    }

    /** Polls until the condition holds or the timeout passes; returns the last evaluation. */
    public static boolean awaitTrue(BooleanSupplier condition, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() - deadline > 0) {
                return condition.getAsBoolean();
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return condition.getAsBoolean();
            }
        }
    }

    @Override
    public String toString() {
        return "handedOff=" + handedOff.get() + ", fallbacks=" + fallbackCounts() + ", acks=" + ackCounts();
    }
}
