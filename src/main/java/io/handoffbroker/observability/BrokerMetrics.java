package io.handoffbroker.observability;

import com.google.protobuf.InvalidProtocolBufferException;
import io.handoffbroker.handoff.AckResult;
import io.handoffbroker.handoff.FallbackReason;
import io.handoffbroker.handoff.HandoffEvents;
import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.PeerIdentity;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BrokerEvents;
import io.handoffbroker.server.ClientConnection;
import io.handoffbroker.wire.PeerText;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Hello;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns broker and handoff events into meters and log lines. Names and labels
 * are a contract shared with the reference broker's dashboards.
 *
 * <p>Every counter series the broker can increment is registered at zero on start, so that
 * {@code rate()} and {@code increase()} see its first event (a series that appears at 1 has no
 * earlier sample to rise from). For {@code hello_total} those are, by label:
 * <ul>
 *   <li>each configured service and version: {@code negotiated}, {@code internal} (a Hello
 *       negotiated and then not routed), {@code backend_spawn_failed} (that backend down), and
 *       the {@linkplain #ANY_HELLO outcomes any Hello can get};</li>
 *   <li>each configured service under version {@code other}: {@code backend_spawn_failed} (no
 *       such version), {@code version_blocked} (a blocked version is never a configured one,
 *       start-up sees to that), and the outcomes any Hello can get;</li>
 *   <li>service {@code unknown}, version {@code other}: {@code service_unknown}, and the outcomes
 *       any Hello can get.</li>
 * </ul>
 * The handoff counters are registered for each configured service with every route, ACK
 * result and fallback reason, and {@code handoff_endpoint_peer_rejected} for each configured
 * service.
 */
public final class BrokerMetrics implements BrokerEvents, HandoffEvents {

    private static final Logger helloLog = LoggerFactory.getLogger("io.handoffbroker.hello");
    private static final String HELLO_FIELDS =
            "hello service={} version={} connection_id={} request_id={} frame_request_id={} outcome={}";
    private static final String HELLO_ANSWERED = HELLO_FIELDS + " duration_us={}";
    private static final String HELLO_UNDELIVERED = HELLO_FIELDS + " reply_undelivered={}";
    private static final Logger handoffLog = LoggerFactory.getLogger("io.handoffbroker.handoff");

    static final String PREFIX = "running_process_broker_v1_";
    private static final String NEGOTIATED = "negotiated";
    /** The label of a service no backend is configured for. */
    static final String UNKNOWN_SERVICE = "unknown";
    /** The label of a version no backend of the service runs. */
    static final String OTHER_VERSION = "other";
    /**
     * Outcomes a Hello can get whatever it names: refused before negotiation (draining, the rate
     * limit) or for its frame or shape, it is counted under the service and version it names.
     */
    static final List<String> ANY_HELLO = outcomes(ErrorCode.ERROR_RATE_LIMITED, ErrorCode.ERROR_SHUTTING_DOWN,
            ErrorCode.ERROR_PEER_REJECTED, ErrorCode.ERROR_VERSION_UNSUPPORTED);
    private static final List<String> OF_A_CONFIGURED_VERSION = concat(List.of(NEGOTIATED),
            outcomes(ErrorCode.ERROR_INTERNAL, ErrorCode.ERROR_BACKEND_SPAWN_FAILED), ANY_HELLO);
    private static final List<String> OF_ANOTHER_VERSION = concat(
            outcomes(ErrorCode.ERROR_BACKEND_SPAWN_FAILED, ErrorCode.ERROR_VERSION_BLOCKED), ANY_HELLO);
    private static final List<String> OF_AN_UNKNOWN_SERVICE = concat(outcomes(ErrorCode.ERROR_SERVICE_UNKNOWN),
            ANY_HELLO);
    private static final int LOGGED_TEXT_MAX = 128;

    private final MeterRegistry registry;
    // Meters by name and tag values: a map lookup is far cheaper than a builder's trip through the
    // registry's filters on every Hello. Bounded like the labels (configured services, fixed outcomes).
    private final Map<List<String>, Counter> counters = new ConcurrentHashMap<>();
    private final Map<List<String>, Timer> timers = new ConcurrentHashMap<>();
    private final Counter peerRejected;
    private final Counter helloTimeouts;
    private final Set<String> serviceNames;
    private final Set<String> versions;

    public BrokerMetrics(MeterRegistry registry, ServiceCatalog catalog) {
        this.registry = registry;
        this.peerRejected = Counter.builder(PREFIX + "peer_rejected")
                .description("Connections closed without a reply: the peer policy did not admit the peer")
                .register(registry);
        this.helloTimeouts = Counter.builder(PREFIX + "hello_timeouts")
                .description("Connections closed because no complete Hello arrived within the hello timeout")
                .register(registry);
        for (String outcome : concat(OF_A_CONFIGURED_VERSION, outcomes(ErrorCode.ERROR_VERSION_BLOCKED,
                ErrorCode.ERROR_SERVICE_UNKNOWN))) {
            undeliveredCounter(outcome);
        }
        this.serviceNames = catalog.all().stream().map(ServiceBackend::name).collect(Collectors.toSet());
        this.versions = catalog.all().stream().map(b -> b.name() + "@" + b.version()).collect(Collectors.toSet());
        for (String outcome : OF_AN_UNKNOWN_SERVICE) {
            helloCounter(UNKNOWN_SERVICE, OTHER_VERSION, outcome);
        }
        for (ServiceBackend backend : catalog.all()) {
            String service = backend.name();
            String version = backend.version().toString();
            for (String outcome : OF_A_CONFIGURED_VERSION) {
                helloCounter(service, version, outcome);
            }
            for (String outcome : OF_ANOTHER_VERSION) {
                helloCounter(service, OTHER_VERSION, outcome);
            }
            helloTimer(service);
            for (String route : new String[] {"handed_off", "fallback"}) {
                handoffCounter(service, route);
            }
            for (AckResult result : AckResult.values()) {
                ackCounter(service, result);
            }
            for (String reason : FallbackReason.ALL) {
                fallbackCounter(service, reason);
            }
            handoffTimer(service);
            endpointRejectedCounter(service);
        }
    }

    @Override
    public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
        LoggedHello hello = LoggedHello.of(decision);
        String service = serviceLabel(hello.serviceName());
        helloCounter(service, versionLabel(hello.serviceName(), hello.wantedVersion()), decision.outcome()).increment();
        helloTimer(service).record(durationNanos, TimeUnit.NANOSECONDS);
        long durationMicros = durationNanos / 1_000;
        hello.log(connection, decision, HELLO_ANSWERED, "duration_us", durationMicros, durationMicros);
    }

    /**
     * A client's text as the log message shows it: quoted, its quotes and backslashes escaped, when it
     * holds a space, '=' or '"', so that it cannot pass for fields of its own ({@code request_id=x
     * outcome=negotiated}). The key-value pairs, which the JSON formats write, carry it as it is.
     */
    static String inText(String clientText) {
        if (clientText.chars().noneMatch(c -> c == ' ' || c == '=' || c == '"')) {
            return clientText;
        }
        return '"' + clientText.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    /** What the Hello log says of a decided Hello, printable and bounded whatever the client sent. */
    private record LoggedHello(String serviceName, String wantedVersion, String requestId, long frameRequestId) {

        static LoggedHello of(HelloDecision decision) {
            // A Hello refused before its payload was looked at (rate limit, draining) still names its
            // service and version when it decodes; the labels stay bounded to configured services.
            Hello hello = switch (decision) {
                case HelloDecision.Negotiate n -> n.hello();
                case HelloDecision.Refuse r -> decodeHello(r.request());
            };
            Frame request = switch (decision) {
                case HelloDecision.Negotiate n -> n.request();
                case HelloDecision.Refuse r -> r.request();
            };
            return new LoggedHello(
                    printable(decision.serviceName().isEmpty() && hello != null ? hello.getServiceName()
                            : decision.serviceName()),
                    printable(decision.wantedVersion().isEmpty() && hello != null ? hello.getWantedVersion()
                            : decision.wantedVersion()),
                    hello == null ? "" : printable(hello.getRequestId()),
                    request == null ? 0 : request.getRequestId());
        }

        /**
         * The Hello's one line: its fields, and a last one that says how it ended ({@code lastKey},
         * whose value the message shows as {@code lastInText}).
         */
        void log(ClientConnection connection, HelloDecision decision, String message, String lastKey,
                Object lastValue, Object lastInText) {
            helloLog.atInfo()
                    .addKeyValue("service", serviceName)
                    .addKeyValue("version", wantedVersion)
                    .addKeyValue("connection_id", connection.id())
                    .addKeyValue("request_id", requestId)
                    .addKeyValue("frame_request_id", frameRequestId)
                    .addKeyValue("outcome", decision.outcome())
                    .addKeyValue(lastKey, lastValue)
                    .log(message, inText(serviceName), inText(wantedVersion), connection.id(), inText(requestId),
                            frameRequestId, decision.outcome(), lastInText);
        }
    }

    @Override
    public void peerRejected(PeerIdentity peer) {
        peerRejected.increment();
    }

    @Override
    public void helloUndelivered(ClientConnection connection, HelloDecision decision, String reason) {
        undeliveredCounter(decision.outcome()).increment();
        // The Hello's one line: it was decided, so the client's request is accounted for, but
        // the client never read the answer.
        LoggedHello.of(decision).log(connection, decision, HELLO_UNDELIVERED, "reply_undelivered", reason,
                inText(reason));
    }

    @Override
    public void helloTimedOut(ClientConnection connection) {
        helloTimeouts.increment();
    }

    @Override
    public void handedOff(ServiceBackend backend, long connectionId, long durationNanos) {
        handoffCounter(backend.name(), "handed_off").increment();
        handoffTimer(backend.name()).record(durationNanos, TimeUnit.NANOSECONDS);
        handoffLog.atInfo()
                .addKeyValue("service", backend.name())
                .addKeyValue("version", backend.version().toString())
                .addKeyValue("connection_id", connectionId)
                .addKeyValue("outcome", "handed_off")
                .addKeyValue("duration_us", durationNanos / 1_000)
                .log("handoff service={} version={} connection_id={} outcome=handed_off duration_us={}",
                        backend.name(), backend.version(), connectionId, durationNanos / 1_000);
    }

    @Override
    public void fellBack(ServiceBackend backend, long connectionId, String reason, String detail) {
        handoffCounter(backend.name(), "fallback").increment();
        fallbackCounter(backend.name(), reason).increment();
        handoffLog.atInfo()
                .addKeyValue("service", backend.name())
                .addKeyValue("version", backend.version().toString())
                .addKeyValue("connection_id", connectionId)
                .addKeyValue("outcome", "fallback")
                .addKeyValue("reason", reason)
                .log("handoff service={} version={} connection_id={} outcome=fallback reason={} detail={}",
                        backend.name(), backend.version(), connectionId, reason, detail);
    }

    @Override
    public void ackResult(ServiceBackend backend, long connectionId, AckResult result) {
        ackCounter(backend.name(), result).increment();
    }

    @Override
    public void handoffEndpointRejected(ServiceBackend backend, long peerUid, long peerPid) {
        endpointRejectedCounter(backend.name()).increment();
    }

    // The Hello inside a refused request, when it decodes: the client's service, version and
    // request_id are worth logging even when the broker said no before it read them.
    private static @Nullable Hello decodeHello(@Nullable Frame request) {
        if (request == null) {
            return null;
        }
        try {
            return Hello.parseFrom(request.getPayload());
        } catch (InvalidProtocolBufferException notAHello) {
            return null;
        }
    }

    private static String printable(String text) {
        return PeerText.printable(text, LOGGED_TEXT_MAX);
    }

    private Counter handoffCounter(String service, String route) {
        return counters.computeIfAbsent(List.of("handoff", service, route), k -> Counter.builder(PREFIX + "handoff")
                .description("Negotiated connections, by the route they took")
                .tag("service", service).tag("route", route).register(registry));
    }

    private Counter helloCounter(String service, String version, String outcome) {
        return counters.computeIfAbsent(List.of("hello", service, version, outcome), k -> Counter.builder(PREFIX
                + "hello").description("Hellos answered, by outcome")
                .tag("service", service).tag("version", version).tag("outcome", outcome).register(registry));
    }

    private Timer helloTimer(String service) {
        return timers.computeIfAbsent(List.of("hello_duration", service), k -> Timer.builder(PREFIX
                + "hello_duration").description("Accept to reply, per Hello")
                .tag("service", service).publishPercentileHistogram().register(registry));
    }

    private Timer handoffTimer(String service) {
        return timers.computeIfAbsent(List.of("handoff_duration", service), k -> Timer.builder(PREFIX
                + "handoff_duration").description("Hello to relay, per successful handoff")
                .tag("service", service).publishPercentileHistogram().register(registry));
    }

    private Counter ackCounter(String service, AckResult result) {
        return counters.computeIfAbsent(List.of("handoff_acks", service, result.label()), k -> Counter.builder(PREFIX
                + "handoff_acks").description("Handoff ACK results")
                .tag("service", service).tag("result", result.label()).register(registry));
    }

    private Counter fallbackCounter(String service, String reason) {
        return counters.computeIfAbsent(List.of("handoff_fallback", service, reason), k -> Counter.builder(PREFIX
                + "handoff_fallback").description("Handoffs not done, by reason")
                .tag("service", service).tag("reason", reason).register(registry));
    }

    private Counter endpointRejectedCounter(String service) {
        return counters.computeIfAbsent(List.of("handoff_endpoint_peer_rejected", service), k -> Counter.builder(
                PREFIX + "handoff_endpoint_peer_rejected").description("Connections to the handoff "
                + "endpoint closed unused, its listener running as a uid the service's handoff-endpoint-uids does not "
                + "list: the pool's dials, and one probe a probe interval while that listener stays")
                .tag("service", service).register(registry));
    }

    private String serviceLabel(String name) {
        return serviceNames.contains(name) ? name : UNKNOWN_SERVICE;
    }

    private String versionLabel(String name, String version) {
        return versions.contains(name + "@" + version) ? version : OTHER_VERSION;
    }

    private Counter undeliveredCounter(String outcome) {
        return counters.computeIfAbsent(List.of("hello_undelivered", outcome), k -> Counter.builder(
                PREFIX + "hello_undelivered").description("Hellos decided whose reply did not reach the client: it "
                + "closed first, or did not read the reply before the hello timeout; counted here, not in hello_total")
                .tag("outcome", outcome).register(registry));
    }

    private static List<String> outcomes(ErrorCode... codes) {
        return Stream.of(codes).map(HelloDecision::outcomeOf).toList();
    }

    @SafeVarargs
    private static List<String> concat(List<String>... lists) {
        return Stream.of(lists).flatMap(List::stream).toList();
    }
}
