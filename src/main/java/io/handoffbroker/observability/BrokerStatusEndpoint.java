package io.handoffbroker.observability;

import io.handoffbroker.handoff.ControlConnectionPool;
import io.handoffbroker.handoff.HandoffOrchestrator;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BackendProber;
import io.handoffbroker.server.BrokerServer;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;

/**
 * {@code /actuator/broker}: the broker's status as one JSON document, in the
 * spirit of the reference's {@code status --json}. {@code schema_version} 2: the handoff counts
 * moved from each backend to a map per service, which is how they are counted.
 */
@Endpoint(id = "broker")
public final class BrokerStatusEndpoint {

    private final BrokerServer server;
    private final ServiceCatalog catalog;
    private final BackendProber prober;
    private final HandoffOrchestrator orchestrator;
    private final MeterRegistry registry;

    public BrokerStatusEndpoint(BrokerServer server, ServiceCatalog catalog, BackendProber prober,
            HandoffOrchestrator orchestrator, MeterRegistry registry) {
        this.server = server;
        this.catalog = catalog;
        this.prober = prober;
        this.orchestrator = orchestrator;
        this.registry = registry;
    }

    @ReadOperation
    public Map<String, Object> status() {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("schema_version", 2);
        doc.put("pid", ProcessHandle.current().pid());
        doc.put("uptime_seconds", ManagementFactory.getRuntimeMXBean().getUptime() / 1000);
        doc.put("socket_path", server.socketPath().toString());
        doc.put("accepting", server.isAccepting());
        // Accepting says nothing of whether clients can find the listener: the file may be gone.
        doc.put("socket_file_present", server.socketFileIsOurs());
        doc.put("draining", server.isDraining());
        doc.put("event_loop_waits_on", server.waitingOn());
        doc.put("connections", Map.of("open", server.openConnections(), "accepted", server.connectionsAccepted()));
        doc.put("hello_memory_bytes", server.helloMemoryTaken());
        doc.put("handoff_tokens_pending", orchestrator.pending().size());
        doc.put("handoff_deliveries_queued", orchestrator.queuedDeliveries());
        List<Map<String, Object>> backends = new ArrayList<>();
        for (ServiceBackend backend : catalog.all()) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("service", backend.name());
            b.put("version", backend.version().toString());
            b.put("state", prober.isReachable(backend) ? "reachable" : "unreachable");
            prober.status(backend).ifPresent(s -> b.put("last_probe", s.probedAt().toString()));
            b.put("backend_endpoint", backend.backendEndpoint().toString());
            b.put("handoff_endpoint", backend.handoffEndpoint().map(Object::toString).orElse(null));
            b.put("handoff_enabled", backend.acceptsHandoffs());
            // Empty: any uid may listen there (handoff-endpoint-uids unset).
            b.put("handoff_endpoint_uids", List.copyOf(backend.handoffEndpointUids()));
            b.put("handoff_endpoint_failure", prober.handoffFailure(backend));
            backend.handoffEndpoint().ifPresent(e -> {
                ControlConnectionPool.Stats stats = orchestrator.pool().stats(e);
                b.put("pool", Map.of("idle", stats.idle(), "active", stats.active()));
            });
            backends.add(b);
        }
        doc.put("backends", backends);
        // Per service, as handoff_total counts them: a count shown per backend would repeat the
        // service's on each of its versions, whether it takes handoffs or not.
        Map<String, Object> handoffs = new TreeMap<>();
        for (ServiceBackend backend : catalog.all()) {
            handoffs.computeIfAbsent(backend.name(), service -> Map.of(
                    "handed_off", count("handoff", service, "route", "handed_off"),
                    "fallback", count("handoff", service, "route", "fallback")));
        }
        doc.put("handoffs", handoffs);
        return doc;
    }

    // A count of events, shown as one: Micrometer keeps counters as doubles.
    private long count(String name, String service, String tag, String value) {
        var counter = registry.find(BrokerMetrics.PREFIX + name).tag("service", service).tag(tag, value).counter();
        return counter == null ? 0 : (long) counter.count();
    }
}
