package io.handoffbroker.server;

import io.handoffbroker.negotiation.BackendAvailability;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.unix.BoundedConnect;
import io.handoffbroker.unix.OutOfResourcesException;
import io.handoffbroker.unix.PeerUidNotAllowedException;
import io.handoffbroker.unix.ThrottledWarning;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Probes every configured backend in the background by connecting to its
 * endpoints and closing again, so that a Hello is never sent to a dead socket and
 * the Hello path itself never waits on a probe. The handoff endpoint is probed too
 * when handoffs to that backend are on: one that does not answer is not offered
 * connections (its clients reconnect through {@code backend_pipe}).
 *
 * <p>A probe is a connection closed at once, without a byte: a backend's handoff
 * endpoint sees a control connection end before any offer, which is no failed handoff
 * and leaves nothing open on either side. A handoff endpoint whose service names the uids
 * its listener may run as ({@code handoff-endpoint-uids}) answers only when its listener
 * runs as one of them: the probe reads the listener's credentials ({@code SO_PEERCRED})
 * on its connection, so a listener of another uid shows as not reachable, with that as
 * the reason, and its clients are not offered a handoff ({@code permission_denied}).
 *
 * <p>Start-up probes once before the listener opens, so the first Hellos already
 * see real state. A change of a backend's reachability, or of its handoff
 * endpoint's, is logged once (WARN when it goes, INFO when it answers), not on every
 * probe.
 */
public final class BackendProber implements BackendAvailability, AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BackendProber.class);

    /**
     * Told, once per service and probe round, when a probe found a handoff endpoint's listener
     * running as a uid the service does not list (as the pool counts a refused dial once per
     * service).
     */
    @FunctionalInterface
    public interface ListenerRefusals {

        void refused(ServiceBackend backend, long listenerUid, long listenerPid);
    }

    /**
     * The last probe of one backend.
     *
     * @param handoffFailure why the handoff endpoint did not answer, when it has one and did not
     */
    public record BackendStatus(boolean reachable, Instant probedAt, String detail, Optional<String> handoffFailure) {
    }

    private final ServiceCatalog catalog;
    private final boolean handoffEnabled;
    private final Duration interval;
    private final Duration timeout;
    private final Clock clock;
    private final Map<ServiceBackend, BackendStatus> statuses = new ConcurrentHashMap<>();
    private volatile ListenerRefusals refusals = (backend, uid, pid) -> { };
    private final ThrottledWarning notProbed = new ThrottledWarning();
    private @Nullable ScheduledExecutorService scheduler;

    /** A prober for a broker whose handoff route is on ({@code broker.handoff.enabled}). */
    public BackendProber(ServiceCatalog catalog, Duration interval, Duration timeout, Clock clock) {
        this(catalog, true, interval, timeout, clock);
    }

    /**
     * @param handoffEnabled the broker's handoff route is on ({@code broker.handoff.enabled}); when
     *     off, no handoff endpoint is probed
     */
    public BackendProber(ServiceCatalog catalog, boolean handoffEnabled, Duration interval, Duration timeout,
            Clock clock) {
        this.catalog = catalog;
        this.handoffEnabled = handoffEnabled;
        this.interval = interval;
        this.timeout = timeout;
        this.clock = clock;
    }

    /**
     * Where to report a probe refused for its listener's uid: each probe while the wrong
     * listener stays, so that a socket replaced after start-up is counted although the prober
     * keeps clients (and with them the pool's dials) away from it.
     */
    public void reportListenerRefusalsTo(ListenerRefusals refusals) {
        this.refusals = Objects.requireNonNull(refusals);
    }

    /** Probes every backend once, then keeps probing every interval on a daemon thread. */
    public synchronized void start() {
        probeAll();
        if (scheduler == null && !catalog.isEmpty()) {
            ScheduledExecutorService s = Executors.newSingleThreadScheduledExecutor(
                    Thread.ofPlatform().name("broker-backend-probe").daemon(true).factory());
            s.scheduleWithFixedDelay(this::probeAllSafely, interval.toMillis(), interval.toMillis(),
                    TimeUnit.MILLISECONDS);
            scheduler = s;
        }
    }

    @Override
    public boolean isReachable(ServiceBackend backend) {
        BackendStatus status = statuses.get(backend);
        return status != null && status.reachable();
    }

    /** The last probe of the backend, if it was probed. */
    public Optional<BackendStatus> status(ServiceBackend backend) {
        return Optional.ofNullable(statuses.get(backend));
    }

    /** Whether the backend's handoff endpoint is probed: the broker may hand connections to it. */
    public boolean probesHandoffEndpoint(ServiceBackend backend) {
        return handoffEnabled && backend.acceptsHandoffs();
    }

    /**
     * Whether the backend's handoff endpoint answered its last probe; true while it has not
     * been probed yet, or is not probed (nothing speaks against trying).
     */
    public boolean handoffReachable(ServiceBackend backend) {
        return handoffFailure(backend) == null;
    }

    /**
     * Why the backend's handoff endpoint did not answer its last probe, with the system's
     * message; null while it answers, has not been probed yet, or is not probed.
     */
    public @Nullable String handoffFailure(ServiceBackend backend) {
        return status(backend).flatMap(BackendStatus::handoffFailure).orElse(null);
    }

    /** The retry hint for clients refused because a backend is down: one probe interval. */
    public Duration interval() {
        return interval;
    }

    /** Probes every backend now, on the caller's thread. */
    public void probeAll() {
        Set<String> refusedThisRound = new HashSet<>();
        for (ServiceBackend backend : catalog.all()) {
            Optional<Path> handoffEndpoint = probesHandoffEndpoint(backend) ? backend.handoffEndpoint()
                    : Optional.empty();
            // A probe the broker cannot make for want of its own resources says nothing of the backend:
            // what the last one found stands.
            String failure;
            try {
                failure = probe(backend.backendEndpoint());
            } catch (OutOfResourcesException ours) {
                couldNotProbe(backend, ours);
                continue;
            }
            BackendStatus previous = statuses.get(backend);
            Optional<String> handoffFailure = Optional.empty();
            if (handoffEndpoint.isPresent()) {
                try {
                    handoffFailure = Optional.ofNullable(
                            probeHandoff(backend, handoffEndpoint.get(), refusedThisRound));
                } catch (OutOfResourcesException ours) {
                    couldNotProbe(backend, ours);
                    handoffFailure = previous == null ? Optional.empty() : previous.handoffFailure();
                }
            }
            BackendStatus status = new BackendStatus(failure == null, clock.instant(),
                    failure == null ? "reachable" : failure, handoffFailure);
            statuses.put(backend, status);
            if (previous == null || previous.reachable() != status.reachable()) {
                if (status.reachable()) {
                    log.info("backend {} is reachable at {}", backend.label(), backend.backendEndpoint());
                } else {
                    log.warn("backend {} is not reachable at {}: {}; its clients are refused BACKEND_SPAWN_FAILED"
                            + " until it answers (is it started, listening at its configured backend-endpoint?)",
                            backend.label(), backend.backendEndpoint(), failure);
                }
            }
            if (handoffEndpoint.isPresent()
                    && (previous == null || previous.handoffFailure().isPresent() != handoffFailure.isPresent())) {
                if (handoffFailure.isEmpty()) {
                    log.info("handoff endpoint of backend {} is reachable at {}", backend.label(),
                            handoffEndpoint.get());
                } else {
                    log.warn("handoff endpoint of backend {} is not reachable at {}: {}; its clients reconnect "
                            + "through backend_pipe until it answers", backend.label(), handoffEndpoint.get(),
                            handoffFailure.get());
                }
            }
        }
    }

    private void couldNotProbe(ServiceBackend backend, OutOfResourcesException why) {
        notProbed.count(count -> log.warn("could not make {} probe(s) since the last such warning, the latest of"
                + " backend {}: {}; a backend keeps the state its last probe found meanwhile", count, backend.label(),
                why.getMessage()));
    }

    private void probeAllSafely() {
        try {
            probeAll();
        } catch (RuntimeException e) {
            log.error("backend probe round failed", e);
        }
    }

    /** A backend_pipe: any listener will do. */
    private @Nullable String probe(Path endpoint) throws OutOfResourcesException {
        return probe(endpoint, Set.of(), refused -> { });
    }

    private @Nullable String probeHandoff(ServiceBackend backend, Path endpoint, Set<String> refusedThisRound)
            throws OutOfResourcesException {
        return probe(endpoint, backend.handoffEndpointUids(), refused -> {
            if (refusedThisRound.add(backend.name())) {
                refusals.refused(backend, refused.uid(), refused.pid());
            }
        });
    }

    /**
     * @param allowedUids the uids the endpoint's listener may run as; empty means any, and then
     *     nothing is read from the connection
     * @param refused told of a listener of another uid
     * @return null when the endpoint accepted a connection within the probe timeout (a backlog
     *     that is full for a moment is waited out) from a listener of an allowed uid, else why not
     * @throws OutOfResourcesException when this process could not create the probe's socket
     */
    private @Nullable String probe(Path endpoint, Set<Long> allowedUids, Consumer<PeerUidNotAllowedException> refused)
            throws OutOfResourcesException {
        try (AFUNIXSocket socket = BoundedConnect.connect(AFUNIXSocketAddress.of(endpoint), timeout)) {
            PeerUidNotAllowedException.check(socket, endpoint, allowedUids);
            return null;
        } catch (OutOfResourcesException ours) {
            throw ours;
        } catch (IOException e) {
            if (e instanceof PeerUidNotAllowedException notAllowed) {
                refused.accept(notAllowed);
            }
            return e.getClass().getSimpleName() + ": " + e.getMessage();
        }
    }

    @Override
    public synchronized void close() {
        ScheduledExecutorService s = scheduler;
        if (s != null) {
            s.shutdownNow();
            scheduler = null;
        }
    }
}
