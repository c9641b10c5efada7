package io.handoffbroker.testing;

import io.handoffbroker.config.BrokerLifecycle;
import io.handoffbroker.negotiation.BackendAvailability;
import io.handoffbroker.negotiation.HelloNegotiator;
import io.handoffbroker.negotiation.HelloRateLimiter;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.negotiation.ServiceCatalog;
import io.handoffbroker.server.BrokerEvents;
import io.handoffbroker.server.BrokerServer;
import io.handoffbroker.server.ConnectionRouter;
import io.handoffbroker.server.DrainState;
import io.handoffbroker.server.HelloReplies;
import io.handoffbroker.server.PeerPolicy;
import io.handoffbroker.server.ReconnectRouter;
import io.handoffbroker.server.ServerSettings;
import io.handoffbroker.unix.ProcessUser;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A real broker listener on a real Unix socket in a test's temporary directory,
 * without Spring. Configure with the builder, then {@link #start()}.
 */
public final class BrokerFixture implements AutoCloseable {

    public static final String DAEMON_VERSION = "handoff-broker/test";

    private final Path socketPath;
    private final List<ServiceBackend> backends = new ArrayList<>();
    private Duration helloTimeout = Duration.ofSeconds(2);
    private int maxConnections = 1024;
    private long helloMemory = ServerSettings.DEFAULT_HELLO_MEMORY;
    private int hellosPerPeer = 256;
    private Duration rateWindow = Duration.ofSeconds(1);
    private PeerPolicy peerPolicy = new PeerPolicy.SameUid(ProcessUser.uid());
    private BackendAvailability availability = BackendAvailability.ALWAYS;
    private BrokerEvents events = BrokerEvents.NONE;
    private Function<HelloReplies, ConnectionRouter> router = ReconnectRouter::new;
    private final DrainState drainState = new DrainState();
    private BrokerServer server;

    public BrokerFixture(Path directory) {
        this.socketPath = directory.resolve("broker").resolve("broker.sock");
    }

    public BrokerFixture service(ServiceBackend backend) {
        backends.add(backend);
        return this;
    }

    public BrokerFixture helloTimeout(Duration timeout) {
        this.helloTimeout = timeout;
        return this;
    }

    public BrokerFixture helloMemory(long bytes) {
        this.helloMemory = bytes;
        return this;
    }

    public BrokerFixture maxConnections(int max) {
        this.maxConnections = max;
        return this;
    }

    public BrokerFixture rateLimit(int hellosPerPeer, Duration window) {
        this.hellosPerPeer = hellosPerPeer;
        this.rateWindow = window;
        return this;
    }

    public BrokerFixture peerPolicy(PeerPolicy policy) {
        this.peerPolicy = policy;
        return this;
    }

    public BrokerFixture availability(BackendAvailability availability) {
        this.availability = availability;
        return this;
    }

    public BrokerFixture events(BrokerEvents events) {
        this.events = events;
        return this;
    }

    public BrokerFixture router(Function<HelloReplies, ConnectionRouter> router) {
        this.router = router;
        return this;
    }

    public BrokerFixture start() throws IOException {
        // As the application does: a test that runs the broker out of descriptors would otherwise
        // find its classes loadable or not according to which tests ran before it.
        BrokerLifecycle.loadClassesAhead();
        HelloNegotiator negotiator = new HelloNegotiator(new ServiceCatalog(backends), availability,
                new HelloRateLimiter(hellosPerPeer, rateWindow.toNanos()), drainState::isDraining, 5_000, 2_000);
        HelloReplies replies = new HelloReplies(DAEMON_VERSION, 1800);
        server = new BrokerServer(new ServerSettings(socketPath, helloTimeout, maxConnections, 128, peerPolicy,
                helloMemory),
                negotiator, router.apply(replies), events, drainState);
        server.start();
        return this;
    }

    public Path socketPath() {
        return socketPath;
    }

    public BrokerServer server() {
        return server;
    }

    public RawClient connect() throws IOException {
        return RawClient.connect(socketPath);
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
    }
}
