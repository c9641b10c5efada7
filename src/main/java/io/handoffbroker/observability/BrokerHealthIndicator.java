package io.handoffbroker.observability;

import io.handoffbroker.server.AcceptState;
import io.handoffbroker.server.BrokerServer;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * The {@code broker} health component: whether new clients can reach the broker and be
 * served. UP while the listener accepts, and also while it waits at the connection limit
 * (back-pressure, not a fault: new clients wait in the backlog until a connection closes);
 * OUT_OF_SERVICE while draining; DOWN when the listener is closed or its event loop has
 * stopped, when accepting fails (out of descriptors, typically; the reason is a detail), and
 * when the socket file was removed or replaced, so that no new client can find the listener.
 */
public final class BrokerHealthIndicator extends AbstractHealthIndicator {

    private final BrokerServer server;

    public BrokerHealthIndicator(BrokerServer server) {
        super("broker health check failed");
        this.server = server;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        AcceptState state = server.acceptState(); // once: two readings could straddle a change
        boolean listening = server.isListening();
        boolean socketFileIsOurs = listening && server.socketFileIsOurs();
        boolean serving = (state == AcceptState.ACCEPTING || state == AcceptState.AT_CONNECTION_LIMIT)
                && socketFileIsOurs;
        (serving ? builder.up() : server.isDraining() ? builder.outOfService() : builder.down())
                .withDetail("socketPath", server.socketPath().toString())
                .withDetail("listening", listening)
                .withDetail("socketFilePresent", socketFileIsOurs)
                .withDetail("accepting", state == AcceptState.ACCEPTING)
                .withDetail("atConnectionLimit", state == AcceptState.AT_CONNECTION_LIMIT)
                .withDetail("draining", server.isDraining())
                .withDetail("connectionsOpen", server.openConnections());
        if (state == AcceptState.BACKING_OFF) {
            String why = server.acceptFailure();
            builder.withDetail("acceptFailure", why != null ? why : "accepting again just now");
        }
    }
}
