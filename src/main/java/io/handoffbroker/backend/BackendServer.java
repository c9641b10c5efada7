package io.handoffbroker.backend;

import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A backend's listeners, serving both routes with one handler: clients that
 * reconnect to {@code backend_pipe}, and, when a handoff endpoint is given,
 * connections the broker hands over.
 *
 * <p>Each connection is served on its own platform thread, at most
 * {@code maxConnections} at once for both routes together. At the limit a
 * reconnecting client waits in the listen backlog, and a handoff is refused
 * ("backend at capacity"), which sends that client to {@code backend_pipe} at once.
 * Every connection is closed when the handler returns; {@link #close()} closes the
 * listeners and every open connection.
 */
public final class BackendServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BackendServer.class);

    private final Path endpoint;
    private final Optional<Path> handoffEndpoint;
    private final ConnectionHandler handler;
    private final Semaphore slots;
    private final Set<AFUNIXSocket> open = ConcurrentHashMap.newKeySet();
    private @Nullable AFUNIXServerSocket listener;
    private @Nullable HandoffListener handoffListener;

    /**
     * @param endpoint the backend's own socket ({@code backend_pipe})
     * @param handoffEndpoint the socket the broker hands connections to, if any
     * @param handler serves every connection, whichever route it came by
     * @param maxConnections connections served at once, both routes together
     */
    public BackendServer(Path endpoint, Optional<Path> handoffEndpoint, ConnectionHandler handler,
            int maxConnections) {
        this.endpoint = Objects.requireNonNull(endpoint);
        this.handoffEndpoint = Objects.requireNonNull(handoffEndpoint);
        this.handler = Objects.requireNonNull(handler);
        this.slots = new Semaphore(maxConnections);
    }

    /** A backend without a handoff endpoint: reconnecting clients only. */
    public BackendServer(Path endpoint, ConnectionHandler handler, int maxConnections) {
        this(endpoint, Optional.empty(), handler, maxConnections);
    }

    /** Binds the endpoints (replacing stale socket files) and starts accepting. */
    public synchronized BackendServer start() throws IOException {
        Path parent = endpoint.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        SocketFile.claim(endpoint);
        AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(endpoint));
        listener = server;
        Thread.ofPlatform().name("backend-accept").daemon(true).start(() -> acceptLoop(server));
        if (handoffEndpoint.isPresent()) {
            HandoffListener handoffs = new HandoffListener(handoffEndpoint.get(), this::tryServe,
                    Duration.ofSeconds(5));
            handoffs.start();
            handoffListener = handoffs;
        }
        return this;
    }

    public Path endpoint() {
        return endpoint;
    }

    public Optional<Path> handoffEndpoint() {
        return handoffEndpoint;
    }

    /** Connections being served right now. */
    public int openConnections() {
        return open.size();
    }

    private void acceptLoop(AFUNIXServerSocket server) {
        while (!server.isClosed()) {
            try {
                slots.acquire();
            } catch (InterruptedException e) {
                return;
            }
            AFUNIXSocket connection;
            try {
                connection = server.accept();
            } catch (IOException e) {
                slots.release();
                if (!server.isClosed()) {
                    log.warn("backend {}: accept failed: {}", endpoint, e.toString());
                }
                continue;
            }
            serveOnThread(connection);
        }
    }

    /** Serves an adopted connection if a slot is free; false leaves the connection to the caller. */
    private boolean tryServe(AFUNIXSocket adopted) {
        if (!slots.tryAcquire()) {
            return false;
        }
        serveOnThread(adopted);
        return true;
    }

    private void serveOnThread(AFUNIXSocket connection) {
        open.add(connection);
        Thread.ofPlatform().name("backend-conn").daemon(true).start(() -> serve(connection));
    }

    private void serve(AFUNIXSocket connection) {
        try (connection) {
            handler.serve(connection);
        } catch (SocketException closed) {
            log.debug("backend {}: connection ended: {}", endpoint, closed.toString());
        } catch (IOException | RuntimeException e) {
            log.warn("backend {}: handler failed: {}", endpoint, e.toString());
        } finally {
            open.remove(connection);
            slots.release();
        }
    }

    @Override
    public synchronized void close() {
        HandoffListener handoffs = handoffListener;
        if (handoffs != null) {
            handoffs.close();
            handoffListener = null;
        }
        AFUNIXServerSocket server = listener;
        if (server == null) {
            return; // never bound: the socket file, if any, belongs to someone else
        }
        try {
            server.close();
        } catch (IOException ignored) {
            // Closing a listener only fails if it is already closed.
        }
        listener = null;
        for (AFUNIXSocket connection : open) {
            try {
                connection.close();
            } catch (IOException ignored) {
                // Already closed by its handler.
            }
        }
        try {
            Files.deleteIfExists(endpoint);
        } catch (IOException e) {
            log.warn("backend {}: could not remove socket file: {}", endpoint, e.toString());
        }
    }
}
