package io.handoffbroker.config;

import io.handoffbroker.backend.BackendServer;
import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The demo echo backend, run in-process so the broker works with no configuration
 * at all. It listens at both endpoints, so the demo goes through a real handoff.
 */
public final class DemoEchoService implements AutoCloseable {

    private final ServiceBackend backend;
    private final BackendServer server;

    public DemoEchoService(ServiceBackend backend) {
        this.backend = backend;
        this.server = new BackendServer(backend.backendEndpoint(), backend.handoffEndpoint(), new EchoHandler(), 1024);
    }

    /** Where its sockets live. */
    public Path directory() {
        return Objects.requireNonNull(backend.backendEndpoint().getParent());
    }

    public void start() throws IOException {
        SocketFile.preparePrivateParent(backend.backendEndpoint());
        server.start();
    }

    @Override
    public void close() {
        server.close();
    }
}
