package io.handoffbroker.backend;

import io.handoffbroker.unix.Descriptors;
import java.io.IOException;
import java.net.SocketException;
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
    private @Nullable BoundListener listener;
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

    /**
     * Binds the endpoints (creating their directories, replacing stale socket files)
     * and starts accepting.
     */
    public synchronized BackendServer start() throws IOException {
        BoundListener bound = BoundListener.bind(endpoint);
        listener = bound;
        Thread.ofPlatform().name("backend-accept").daemon(true).start(() -> acceptLoop(bound.socket()));
        if (handoffEndpoint.isPresent()) {
            HandoffListener handoffs = new HandoffListener(handoffEndpoint.get(), this::tryServe,
                    Duration.ofSeconds(5));
            try {
                handoffs.start();
            } catch (IOException | RuntimeException e) {
                close();
                throw e;
            }
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
        try {
            handler.serve(connection);
        } catch (SocketException closed) {
            log.debug("backend {}: connection ended: {}", endpoint, closed.toString());
        } catch (IOException | RuntimeException e) {
            log.warn("backend {}: handler failed: {}", endpoint, e.toString());
        } finally {
            release(connection);
            open.remove(connection);
            slots.release();
        }
    }

    // A handed-off socket was made from a descriptor, and Socket.close() on such a socket
    // shuts it down but leaves the descriptor open; release the descriptor explicitly.
    // This is the last copy of the connection, so the client sees end of stream either way.
    private void release(AFUNIXSocket connection) {
        try {
            Descriptors.closeWithoutShutdown(connection);
        } catch (IOException e) {
            log.debug("backend {}: closing a connection failed: {}", endpoint, e.toString());
        }
    }

    /** Closes the listeners and every open connection; the handlers see their sockets shut down. */
    @Override
    public synchronized void close() {
        HandoffListener handoffs = handoffListener;
        if (handoffs != null) {
            handoffs.close();
            handoffListener = null;
        }
        BoundListener bound = listener;
        if (bound == null) {
            return; // never bound: the socket file, if any, belongs to someone else
        }
        bound.close();
        listener = null;
        // Shutting down (not just closing) wakes each handler blocked in a read; the handler's
        // thread then releases the descriptor.
        open.forEach(Descriptors::closeQuietly);
    }
}
