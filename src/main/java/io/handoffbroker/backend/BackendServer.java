package io.handoffbroker.backend;

import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A backend's listener at its own endpoint ({@code backend_pipe}): accepts
 * reconnecting clients and serves each on a worker thread with the handler.
 *
 * <p>Workers are platform threads, at most {@code maxConnections} at once; beyond
 * that the acceptor waits, and clients wait in the listen backlog.
 */
public final class BackendServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BackendServer.class);

    private final Path endpoint;
    private final ConnectionHandler handler;
    private final Semaphore slots;
    private final ExecutorService workers;
    private @Nullable AFUNIXServerSocket listener;
    private @Nullable Thread acceptor;

    public BackendServer(Path endpoint, ConnectionHandler handler, int maxConnections) {
        this.endpoint = Objects.requireNonNull(endpoint);
        this.handler = Objects.requireNonNull(handler);
        this.slots = new Semaphore(maxConnections);
        this.workers = Executors.newThreadPerTaskExecutor(
                Thread.ofPlatform().name("backend-conn-", 0).daemon(true).factory());
    }

    /** Binds the endpoint (replacing a stale socket file) and starts accepting. */
    public synchronized BackendServer start() throws IOException {
        Path parent = endpoint.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        SocketFile.claim(endpoint);
        AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(endpoint));
        listener = server;
        Thread thread = Thread.ofPlatform().name("backend-accept").daemon(true).unstarted(() -> acceptLoop(server));
        acceptor = thread;
        thread.start();
        return this;
    }

    public Path endpoint() {
        return endpoint;
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
            workers.execute(() -> serve(connection));
        }
    }

    private void serve(AFUNIXSocket connection) {
        try (connection) {
            handler.serve(connection);
        } catch (SocketException closed) {
            log.debug("backend {}: connection ended: {}", endpoint, closed.toString());
        } catch (IOException | RuntimeException e) {
            log.warn("backend {}: handler failed: {}", endpoint, e.toString());
        } finally {
            slots.release();
        }
    }

    @Override
    public synchronized void close() {
        AFUNIXServerSocket server = listener;
        if (server != null) {
            try {
                server.close();
            } catch (IOException ignored) {
                // Closing a listener only fails if it is already closed.
            }
            listener = null;
        }
        workers.shutdownNow();
        try {
            workers.awaitTermination(Duration.ofSeconds(2).toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            Files.deleteIfExists(endpoint);
        } catch (IOException e) {
            log.warn("backend {}: could not remove socket file: {}", endpoint, e.toString());
        }
    }
}
