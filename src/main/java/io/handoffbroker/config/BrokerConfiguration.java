package io.handoffbroker.config;

import io.handoffbroker.negotiation.HelloNegotiator;
import io.handoffbroker.negotiation.HelloRateLimiter;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BackendProber;
import io.handoffbroker.server.BrokerEvents;
import io.handoffbroker.server.BrokerServer;
import io.handoffbroker.server.DrainState;
import io.handoffbroker.server.HelloReplies;
import io.handoffbroker.handoff.HandoffEvents;
import io.handoffbroker.handoff.HandoffOrchestrator;
import java.io.IOException;
import java.time.Clock;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.info.BuildProperties;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Builds the broker from {@link BrokerProperties}. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(BrokerProperties.class)
public class BrokerConfiguration {

    // Static: a bean factory post-processor is built before this configuration's instance.
    @Bean
    static UnknownBrokerKeys unknownBrokerKeys() {
        return new UnknownBrokerKeys();
    }

    @Bean
    @ConditionalOnMissingBean
    ServiceCatalog serviceCatalog(BrokerProperties properties) {
        return BrokerSettings.catalog(properties);
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    BackendProber backendProber(ServiceCatalog catalog, BrokerProperties properties,
            ObjectProvider<HandoffEvents> events) {
        BackendProber prober = new BackendProber(catalog, properties.getHandoff().isEnabled(),
                properties.getBackendProbe().getInterval(), properties.getBackendProbe().getTimeout(), Clock.systemUTC());
        // Counted as the pool's refused dials are: a listener replaced after start-up is met by probes only.
        HandoffEvents handoffEvents = events.getIfAvailable(() -> HandoffEvents.NONE);
        prober.reportListenerRefusalsTo(handoffEvents::handoffEndpointRejected);
        return prober;
    }

    @Bean
    DrainState drainState() {
        return new DrainState();
    }

    @Bean
    HelloReplies helloReplies(BrokerProperties properties, ObjectProvider<BuildProperties> build) {
        BuildProperties info = build.getIfAvailable();
        String version = info != null && info.getVersion() != null ? info.getVersion() : "dev";
        return new HelloReplies("handoff-broker/" + version, properties.getKeepaliveInterval().toSeconds());
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnMissingBean
    HandoffOrchestrator handoffOrchestrator(BrokerProperties properties, HelloReplies replies,
            ServiceCatalog catalog, BackendProber prober, ObjectProvider<HandoffEvents> events) throws IOException {
        return HandoffOrchestrator.create(BrokerSettings.handoff(properties), replies, catalog.all(),
                prober::handoffFailure,
                events.getIfAvailable(() -> HandoffEvents.NONE));
    }

    @Bean(destroyMethod = "close")
    BrokerServer brokerServer(BrokerProperties properties, ServiceCatalog catalog, BackendProber prober,
            HandoffOrchestrator router, ObjectProvider<BrokerEvents> events, DrainState drainState) {
        HelloRateLimiter rateLimiter = new HelloRateLimiter(properties.getRateLimit().getHellosPerPeer(),
                properties.getRateLimit().getWindow().toNanos());
        HelloNegotiator negotiator = new HelloNegotiator(catalog, prober, rateLimiter, drainState::isDraining,
                properties.getShutdownGracePeriod().toMillis(), prober.interval().toMillis());
        return new BrokerServer(BrokerSettings.server(properties), negotiator, router,
                events.getIfAvailable(() -> BrokerEvents.NONE), drainState);
    }

    @Bean(destroyMethod = "close")
    @ConditionalOnProperty(name = "broker.demo.enabled", havingValue = "true", matchIfMissing = true)
    DemoEchoService demoEchoService(BrokerProperties properties) {
        return new DemoEchoService(BrokerSettings.demoBackend(properties));
    }

    @Bean
    BrokerLifecycle brokerLifecycle(BrokerServer server, BackendProber prober, HandoffOrchestrator orchestrator,
            ObjectProvider<DemoEchoService> demo, BrokerProperties properties, ApplicationEventPublisher events) {
        return new BrokerLifecycle(server, prober, orchestrator, demo.getIfAvailable(),
                properties.getShutdownGracePeriod(), events);
    }
}
