package io.handoffbroker.observability;

import io.handoffbroker.handoff.HandoffOrchestrator;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BackendProber;
import io.handoffbroker.server.BrokerServer;
import io.micrometer.core.instrument.MeterRegistry;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Metrics, health components and the status endpoint. */
@Configuration(proxyBeanMethods = false)
public class ObservabilityConfiguration {

    @Bean
    BrokerMetrics brokerMetrics(MeterRegistry registry, ServiceCatalog catalog) {
        return new BrokerMetrics(registry, catalog);
    }

    @Bean
    SmartInitializingSingleton brokerGauges(MeterRegistry registry, BrokerServer server, ServiceCatalog catalog,
            BackendProber prober, HandoffOrchestrator orchestrator) {
        return () -> BrokerGauges.register(registry, server, catalog, prober, orchestrator);
    }

    @Bean("brokerHealthContributor")
    BrokerHealthIndicator broker(BrokerServer server) {
        return new BrokerHealthIndicator(server);
    }

    @Bean("backendsHealthContributor")
    BackendsHealthIndicator backends(ServiceCatalog catalog, BackendProber prober, HandoffOrchestrator orchestrator) {
        return new BackendsHealthIndicator(catalog, prober, orchestrator);
    }

    @Bean
    BrokerStatusEndpoint brokerStatusEndpoint(BrokerServer server, ServiceCatalog catalog, BackendProber prober,
            HandoffOrchestrator orchestrator, MeterRegistry registry) {
        return new BrokerStatusEndpoint(server, catalog, prober, orchestrator, registry);
    }
}
