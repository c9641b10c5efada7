package io.handoffbroker.observability;

import com.google.protobuf.InvalidProtocolBufferException;
import io.handoffbroker.handoff.AckResult;
import io.handoffbroker.handoff.FallbackReason;
import io.handoffbroker.handoff.HandoffEvents;
import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BrokerEvents;
import io.handoffbroker.server.ClientConnection;
import io.handoffbroker.wire.proto.Frame;
import io.handoffbroker.wire.proto.Hello;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns broker and handoff events into meters and log lines. Names and labels
 * are a contract shared with the reference broker's dashboards; counters of every
 * configured service are registered at zero on start so alerts work before the
 * first event.
 */
public final class BrokerMetrics implements BrokerEvents, HandoffEvents {

    private static final Logger helloLog = LoggerFactory.getLogger("io.handoffbroker.hello");
    private static final Logger handoffLog = LoggerFactory.getLogger("io.handoffbroker.handoff");

    static final String PREFIX = "running_process_broker_v1_";

    private final MeterRegistry registry;
    private final Set<String> serviceNames;
    private final Set<String> versions;

    public BrokerMetrics(MeterRegistry registry, ServiceCatalog catalog) {
        this.registry = registry;
        this.serviceNames = catalog.all().stream().map(ServiceBackend::name).collect(Collectors.toSet());
        this.versions = catalog.all().stream().map(b -> b.name() + "@" + b.version()).collect(Collectors.toSet());
        for (ServiceBackend backend : catalog.all()) {
            String service = backend.name();
            String version = backend.version().toString();
            helloCounter(service, version, "negotiated");
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
        }
    }

    @Override
    public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
        String service = serviceLabel(decision.serviceName());
        String version = versionLabel(decision.serviceName(), decision.wantedVersion());
        helloCounter(service, version, decision.outcome()).increment();
        helloTimer(service).record(durationNanos, TimeUnit.NANOSECONDS);
        Frame request = decision instanceof HelloDecision.Negotiate n ? n.request()
                : ((HelloDecision.Refuse) decision).request();
        String requestId = decision instanceof HelloDecision.Negotiate n ? n.hello().getRequestId()
                : helloRequestId(request);
        long frameRequestId = request == null ? 0 : request.getRequestId();
        helloLog.atInfo()
                .addKeyValue("service", decision.serviceName())
                .addKeyValue("version", decision.wantedVersion())
                .addKeyValue("connection_id", connection.id())
                .addKeyValue("request_id", requestId)
                .addKeyValue("frame_request_id", frameRequestId)
                .addKeyValue("outcome", decision.outcome())
                .addKeyValue("duration_us", durationNanos / 1_000)
                .log("hello service={} version={} connection_id={} request_id={} frame_request_id={} outcome={}"
                        + " duration_us={}",
                        decision.serviceName(), decision.wantedVersion(), connection.id(), requestId, frameRequestId,
                        decision.outcome(), durationNanos / 1_000);
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

    // The Hello's own request_id (the client's correlation for logs), also for a refused Hello
    // whose payload decoded; empty when there was none or it did not decode.
    private static String helloRequestId(@Nullable Frame request) {
        if (request == null) {
            return "";
        }
        try {
            return Hello.parseFrom(request.getPayload()).getRequestId();
        } catch (InvalidProtocolBufferException notAHello) {
            return "";
        }
    }

    private Counter handoffCounter(String service, String route) {
        return Counter.builder(PREFIX + "handoff").description("Negotiated connections, by the route they took")
                .tag("service", service).tag("route", route).register(registry);
    }

    private Counter helloCounter(String service, String version, String outcome) {
        return Counter.builder(PREFIX + "hello").description("Hellos answered, by outcome")
                .tag("service", service).tag("version", version).tag("outcome", outcome).register(registry);
    }

    private Timer helloTimer(String service) {
        return Timer.builder(PREFIX + "hello_duration").description("Accept to reply, per Hello")
                .tag("service", service).publishPercentileHistogram().register(registry);
    }

    private Timer handoffTimer(String service) {
        return Timer.builder(PREFIX + "handoff_duration").description("Hello to relay, per successful handoff")
                .tag("service", service).publishPercentileHistogram().register(registry);
    }

    private Counter ackCounter(String service, AckResult result) {
        return Counter.builder(PREFIX + "handoff_acks").description("Handoff ACK results")
                .tag("service", service).tag("result", result.label()).register(registry);
    }

    private Counter fallbackCounter(String service, String reason) {
        return Counter.builder(PREFIX + "handoff_fallback").description("Handoffs not done, by reason")
                .tag("service", service).tag("reason", reason).register(registry);
    }

    private String serviceLabel(String name) {
        return serviceNames.contains(name) ? name : "unknown";
    }

    private String versionLabel(String name, String version) {
        return versions.contains(name + "@" + version) ? version : "other";
    }
}
