package io.handoffbroker.observability;

import io.handoffbroker.server.BrokerServer;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/** The {@code broker} health component: UP while the listener is bound and accepting. */
public final class BrokerHealthIndicator extends AbstractHealthIndicator {

    private final BrokerServer server;

    public BrokerHealthIndicator(BrokerServer server) {
        super("broker health check failed");
        this.server = server;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        boolean accepting = server.isAccepting();
        (accepting ? builder.up() : server.isDraining() ? builder.outOfService() : builder.down())
                .withDetail("socketPath", server.socketPath().toString())
                .withDetail("listening", server.isListening())
                .withDetail("accepting", accepting)
                .withDetail("draining", server.isDraining())
                .withDetail("connectionsOpen", server.openConnections());
    }
}
