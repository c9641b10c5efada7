package io.handoffbroker.observability;

import io.handoffbroker.handoff.HandoffOrchestrator;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BackendProber;
import io.handoffbroker.server.BrokerServer;
import io.handoffbroker.server.ServerSettings;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.List;

/**
 * The state gauges: whether clients can reach the listener, open connections, the memory of Hellos
 * being received, reachable backends and handoff endpoints, uptime, pool, pending tokens and queued
 * deliveries.
 */
public final class BrokerGauges {

    private BrokerGauges() {
    }

    public static void register(MeterRegistry registry, BrokerServer server, ServiceCatalog catalog,
            BackendProber prober, HandoffOrchestrator orchestrator) {
        String p = BrokerMetrics.PREFIX;
        // Read when scraped: one stat of the socket path, nothing on the Hello path.
        Gauge.builder(p + "listener_reachable", server, s -> s.isListening() && s.socketFileIsOurs() ? 1 : 0)
                .description("1 while the listener is bound and its socket path names it, so new clients can "
                        + "connect; 0 when the socket file was removed or replaced, the listener is closed "
                        + "(draining, stopped) or its event loop failed")
                .register(registry);
        Gauge.builder(p + "connections_open", server, BrokerServer::openConnections)
                .description("Client connections open").register(registry);
        Gauge.builder(p + "hello_memory_bytes", server, BrokerServer::helloMemoryTaken)
                .description("Memory held by Hellos being received, beyond the first kilobyte of each; at most "
                        + (ServerSettings.DEFAULT_HELLO_MEMORY >> 20) + " MiB together, and a Hello that finds no "
                        + "room waits unread")
                .baseUnit("bytes").register(registry);
        Gauge.builder(p + "uptime_seconds", () -> ManagementFactory.getRuntimeMXBean().getUptime() / 1000.0)
                .description("Seconds since the broker started").register(registry);
        Gauge.builder(p + "handoff_tokens_pending", orchestrator, o -> o.pending().size())
                .description("Handoff tokens issued and not yet consumed or revoked").register(registry);
        Gauge.builder(p + "handoff_deliveries_queued", orchestrator, HandoffOrchestrator::queuedDeliveries)
                .description("Handoffs waiting for a handoff worker to dial a control connection")
                .register(registry);
        for (String service : catalog.all().stream().map(ServiceBackend::name).distinct().toList()) {
            List<ServiceBackend> backends = catalog.versionsOf(service);
            Gauge.builder(p + "active_backends", () -> backends.stream().filter(prober::isReachable).count())
                    .description("Backends of the service that answered their last probe")
                    .tag("service", service).register(registry);
            List<ServiceBackend> handingOff = backends.stream().filter(prober::probesHandoffEndpoint).toList();
            if (!handingOff.isEmpty()) {
                // Only where handoffs are on: a reconnect-only service at 0 would read as an outage.
                Gauge.builder(p + "handoff_endpoints_reachable", () -> handingOff.stream()
                                .filter(b -> prober.status(b).isPresent() && prober.handoffReachable(b)).count())
                        .description("Handoff endpoints of the service's backends that answered their last probe, "
                                + "among those the broker hands connections to")
                        .tag("service", service).register(registry);
            }
            List<Path> endpoints = backends.stream().filter(ServiceBackend::acceptsHandoffs)
                    .flatMap(b -> b.handoffEndpoint().stream()).toList();
            Gauge.builder(p + "handoff_pool_connections",
                    () -> endpoints.stream().mapToInt(e -> orchestrator.pool().stats(e).idle()).sum())
                    .description("Control connections to the service's handoff endpoints, by state")
                    .tag("service", service).tag("state", "idle").register(registry);
            Gauge.builder(p + "handoff_pool_connections",
                    () -> endpoints.stream().mapToInt(e -> orchestrator.pool().stats(e).active()).sum())
                    .description("Control connections to the service's handoff endpoints, by state")
                    .tag("service", service).tag("state", "active").register(registry);
        }
    }
}
