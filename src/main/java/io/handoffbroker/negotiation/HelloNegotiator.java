package io.handoffbroker.negotiation;

import io.handoffbroker.wire.Envelope;
import io.handoffbroker.wire.HelloRules;
import io.handoffbroker.wire.Refusals;
import io.handoffbroker.wire.SemVer;
import io.handoffbroker.wire.WireException;
import io.handoffbroker.wire.WireProtocol;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.FrameKind;
import io.handoffbroker.wire.proto.Hello;
import io.handoffbroker.wire.proto.Refused;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;

/**
 * Decides one Hello, checking in this fixed order (the first failure answers):
 * <ol>
 *   <li>draining for shutdown: {@code SHUTTING_DOWN}, retry after the drain hint;</li>
 *   <li>per-peer Hello rate: {@code RATE_LIMITED}, retry when the peer's window ends;</li>
 *   <li>envelope (REQUEST, 0x00, NONE) and Hello payload: {@code PEER_REJECTED};</li>
 *   <li>Hello shape ({@link HelloRules}): {@code VERSION_UNSUPPORTED} or {@code PEER_REJECTED};</li>
 *   <li>service name: {@code SERVICE_UNKNOWN};</li>
 *   <li>version policy of the service: {@code VERSION_BLOCKED}, retry after 30 s;</li>
 *   <li>a backend of exactly the wanted version: {@code BACKEND_SPAWN_FAILED} listing the versions there are;</li>
 *   <li>that backend reachable at its last probe: {@code BACKEND_SPAWN_FAILED}, retry after the probe interval.</li>
 * </ol>
 * Draining and rate limit come first because they are about the broker and the
 * peer, not about what the frame says: a flood of well-framed but invalid Hellos
 * counts against its sender like a flood of valid ones. (Framing errors are
 * answered by the listener before negotiation, and close the connection.)
 *
 * <p>Not thread-safe (the rate limiter is not): one negotiator per event loop.
 */
public final class HelloNegotiator {

    private static final String SHUTTING_DOWN = "broker is shutting down";

    /** Retry hint of {@code VERSION_BLOCKED}, from the protocol's refusal table. */
    public static final long VERSION_BLOCKED_RETRY_MS = 30_000;

    private final ServiceCatalog catalog;
    private final BackendAvailability availability;
    private final HelloRateLimiter rateLimiter;
    private final BooleanSupplier draining;
    private final long drainingRetryMs;
    private final long backendDownRetryMs;

    public HelloNegotiator(ServiceCatalog catalog, BackendAvailability availability, HelloRateLimiter rateLimiter,
            BooleanSupplier draining, long drainingRetryMs, long backendDownRetryMs) {
        this.catalog = catalog;
        this.availability = availability;
        this.rateLimiter = rateLimiter;
        this.draining = draining;
        this.drainingRetryMs = drainingRetryMs;
        this.backendDownRetryMs = backendDownRetryMs;
    }

    /**
     * The refusal of a draining broker, with its retry hint: for every Hello read during a drain,
     * and for a client still owing its Hello when the drain ends.
     */
    public Refused shuttingDown() {
        return Refusals.refused(ErrorCode.ERROR_SHUTTING_DOWN, SHUTTING_DOWN, drainingRetryMs);
    }

    public HelloDecision decide(Frame frame, PeerIdentity peer, long nowNanos) {
        if (draining.getAsBoolean()) {
            return new HelloDecision.Refuse(frame, shuttingDown(), "", "");
        }
        long retryAfterMs = rateLimiter.acquire(peer.rateLimitKey(), nowNanos);
        if (retryAfterMs > 0) {
            return refuse(frame, ErrorCode.ERROR_RATE_LIMITED, "too many Hellos from this peer", retryAfterMs);
        }
        Hello hello;
        try {
            Envelope.validate(frame, FrameKind.FRAME_KIND_REQUEST, WireProtocol.PAYLOAD_CONTROL);
            hello = Envelope.payload(frame, Hello.parser(), "Hello");
            HelloRules.validate(hello, peer.pid());
        } catch (WireException violation) {
            return new HelloDecision.Refuse(frame, Refusals.of(violation), "", "");
        }
        List<ServiceBackend> versions = catalog.versionsOf(hello.getServiceName());
        if (versions.isEmpty()) {
            return refuse(frame, hello, ErrorCode.ERROR_SERVICE_UNKNOWN, "unknown service", 0, Map.of());
        }
        SemVer wanted = SemVer.parse(hello.getWantedVersion());
        HelloDecision blocked = checkVersionPolicy(frame, hello, wanted, versions);
        if (blocked != null) {
            return blocked;
        }
        for (ServiceBackend backend : versions) {
            if (backend.version().equals(wanted)) {
                if (!availability.isReachable(backend)) {
                    return refuse(frame, hello, ErrorCode.ERROR_BACKEND_SPAWN_FAILED,
                            "backend " + backend.label() + " is not reachable", backendDownRetryMs, Map.of());
                }
                return new HelloDecision.Negotiate(frame, hello, backend);
            }
        }
        String available = versions.stream().map(b -> b.version().toString()).collect(Collectors.joining(", "));
        return refuse(frame, hello, ErrorCode.ERROR_BACKEND_SPAWN_FAILED,
                "no backend of " + hello.getServiceName() + " at version " + wanted + "; available: " + available,
                0, Map.of("available_versions", available));
    }

    // Every entry of the name contributes its policy; the strictest one wins, so
    // adding a backend can never loosen what an operator already blocked.
    private HelloDecision.@Nullable Refuse checkVersionPolicy(Frame frame, Hello hello, SemVer wanted,
            List<ServiceBackend> versions) {
        for (ServiceBackend backend : versions) {
            if (backend.belowMinVersion(wanted)) {
                return refuse(frame, hello, ErrorCode.ERROR_VERSION_BLOCKED, "wanted_version is below min_version",
                        VERSION_BLOCKED_RETRY_MS, Map.of("min_version", backend.minVersion().get().toString()));
            }
            if (backend.notAllowed(wanted)) {
                return refuse(frame, hello, ErrorCode.ERROR_VERSION_BLOCKED,
                        "wanted_version is not in allowed_versions", VERSION_BLOCKED_RETRY_MS,
                        Map.of("allowed_versions", String.join(",", backend.allowedVersions())));
            }
        }
        return null;
    }

    private static HelloDecision.Refuse refuse(Frame frame, ErrorCode code, String reason, long retryAfterMs) {
        return new HelloDecision.Refuse(frame, Refusals.refused(code, reason, retryAfterMs), "", "");
    }

    private static HelloDecision.Refuse refuse(Frame frame, Hello hello, ErrorCode code, String reason,
            long retryAfterMs, Map<String, String> details) {
        return new HelloDecision.Refuse(frame, Refusals.refused(code, reason, retryAfterMs, details),
                hello.getServiceName(), hello.getWantedVersion());
    }
}
