package io.handoffbroker.observability;

import io.handoffbroker.handoff.ControlConnectionPool;
import io.handoffbroker.handoff.HandoffOrchestrator;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BackendProber;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * The {@code backends} health component: UP when every configured backend
 * answered its last probe, DOWN otherwise; one flat detail per backend with its
 * reachability, its handoff endpoint's and its handoff pool state.
 *
 * <p>A handoff endpoint that does not answer is a detail, not DOWN: its clients are still
 * served, through {@code backend_pipe}, one round trip slower.
 */
public final class BackendsHealthIndicator extends AbstractHealthIndicator {

    private final ServiceCatalog catalog;
    private final BackendProber prober;
    private final HandoffOrchestrator orchestrator;

    public BackendsHealthIndicator(ServiceCatalog catalog, BackendProber prober, HandoffOrchestrator orchestrator) {
        super("backends health check failed");
        this.catalog = catalog;
        this.prober = prober;
        this.orchestrator = orchestrator;
    }

    @Override
    protected void doHealthCheck(Health.Builder builder) {
        boolean allUp = true;
        for (ServiceBackend backend : catalog.all()) {
            boolean up = prober.isReachable(backend);
            allUp &= up;
            String state = up ? "reachable" : prober.status(backend).map(s -> s.detail()).orElse("not probed yet");
            String handoff = backend.handoffEndpoint()
                    .map(e -> {
                        ControlConnectionPool.Stats stats = orchestrator.pool().stats(e);
                        // A handoff endpoint that is down costs clients the faster route, not the service:
                        // it shows here and in the fallback metrics, and does not turn the component DOWN.
                        String failure = prober.handoffFailure(backend);
                        return "handoff " + (prober.probesHandoffEndpoint(backend) ? "on" : "off")
                                + (failure == null ? ""
                                        : " (handoff endpoint unreachable: " + failure + "; clients reconnect)")
                                + ", pool idle=" + stats.idle() + " active=" + stats.active();
                    })
                    .orElse("handoff off");
            builder.withDetail(backend.label(), state + "; " + handoff);
        }
        if (allUp) {
            builder.up();
        } else {
            builder.down();
        }
    }
}
