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

    /** The demo's sockets, as an error about their paths names them. */
    static final SocketFile.Party DEMO = new SocketFile.Party("broker's demo backend", "broker.demo.directory");

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
        SocketFile.preparePrivateParent(backend.backendEndpoint(), DEMO);
        // Checked here too, not only by the server's bind: its error would name a backend's
        // backend_pipe, where the operator chooses broker.demo.directory.
        SocketFile.checkClaimable(backend.backendEndpoint(), DEMO);
        if (backend.handoffEndpoint().isPresent()) {
            SocketFile.checkClaimable(backend.handoffEndpoint().get(), DEMO);
        }
        server.start();
    }

    @Override
    public void close() {
        server.close();
    }
}
