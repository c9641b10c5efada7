package io.handoffbroker.backend;

import io.handoffbroker.unix.ClassesAhead;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.Posix;
import io.handoffbroker.unix.ProcessUser;
import io.handoffbroker.unix.SocketFile;
import java.io.FileDescriptor;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A backend's listeners, serving both routes with one handler: clients that
 * reconnect to {@code backend_pipe}, and, when a handoff endpoint is given,
 * connections the broker hands over.
 *
 * <p>Each connection is served on a platform thread of its own (threads are reused), at most
 * {@code maxConnections} at once for both routes together. At the limit a
 * reconnecting client waits (the first one accepted, the others in the listen
 * backlog) until a connection ends, and a handoff is refused
 * ("backend at capacity"), which sends that client to {@code backend_pipe} at once. A client
 * that goes silent holds its slot until it closes, unless {@link #readTimeout} bounds the
 * handler's reads.
 * Every connection is closed when the handler returns; {@link #close()} closes the
 * listeners and every open connection. A {@link StreamHandler} gets a handed-off
 * connection as file streams on its descriptor, without a socket object (see
 * {@code AdoptedStream}); any other handler a socket object made from the descriptor.
 * The handoff endpoint serves at most {@value HandoffListener#MAX_CONTROL_CONNECTIONS} control
 * connections at once, a thread each; one over that is closed when accepted. It takes control
 * connections only from processes of the users {@link #acceptHandoffsFrom} names (by default this
 * process's user and root), and closes any other at once: whoever holds a control connection can
 * hand this backend connections of its own making, each taking a handler slot.
 *
 * <p>A server is started once and closed once: {@link #start()} on a started or closed server
 * throws {@link IllegalStateException} before it touches a socket, and a start that fails closes
 * the server, so a retry needs a new one. Once it is closed, an offer is refused ("backend
 * closing"), and a connection that no handler thread takes (closing, or no thread to be had) is
 * closed, counted and logged, never left open unserved.
 */
public final class BackendServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BackendServer.class);

    /** The backend's own endpoint, as an error about its path names it. */
    static final SocketFile.Party BACKEND_PIPE = new SocketFile.Party("backend",
            "backend_pipe (the BackendServer's endpoint)");

    // How often an accept thread waiting for a slot checks whether the server closed.
    private static final Duration SLOT_POLL = Duration.ofMillis(100);

    private final Path endpoint;
    private final Optional<Path> handoffEndpoint;
    private final ConnectionHandler handler;
    private final Semaphore slots;
    private final Set<AFUNIXSocket> open = ConcurrentHashMap.newKeySet();
    private final Set<AdoptedStream> openStreams = ConcurrentHashMap.newKeySet();
    // A socket made from a descriptor never closes that descriptor itself, not even when
    // close() shuts it down from another thread; its descriptor is released explicitly.
    private final Map<AFUNIXSocket, FileDescriptor> adoptedDescriptors = new ConcurrentHashMap<>();
    // Reused threads: starting a platform thread per connection costs more than the exchange itself.
    private final ExecutorService handlerThreads;
    private volatile @Nullable BoundListener listener;
    private volatile boolean closed;
    private @Nullable HandoffListener handoffListener;
    // Set.copyOf, not Set.of: run as root, the two are one user.
    private Set<Long> brokerUids = Set.copyOf(List.of(ProcessUser.uid(), ProcessUser.ROOT));
    private volatile int readTimeoutMillis; // 0: none
    private int backlog = BoundListener.DEFAULT_BACKLOG;
    private boolean started;
    private boolean startFailed;
    // Connections closed because no handler thread took them: the server was closing, or no thread could be started.
    private final AtomicLong notDispatched = new AtomicLong();

    /**
     * @param endpoint the backend's own socket ({@code backend_pipe})
     * @param handoffEndpoint the socket the broker hands connections to, if any; not {@code endpoint}
     * @param handler serves every connection, whichever route it came by
     * @param maxConnections connections served at once, both routes together: at least 1
     * @throws NullPointerException when an argument is null, naming it
     * @throws IllegalArgumentException when an argument is out of range, naming it: {@code maxConnections}
     *     below 1, a path with no file name or longer than a socket address holds
     *     ({@value SocketFile#MAX_PATH_BYTES} bytes), or the same path for both endpoints
     */
    public BackendServer(Path endpoint, Optional<Path> handoffEndpoint, ConnectionHandler handler,
            int maxConnections) {
        this(endpoint, handoffEndpoint, handler, maxConnections,
                Thread.ofPlatform().name("backend-conn-", 0).daemon(true).factory());
    }

    // The handler threads' factory: a test stands in for a process that cannot start another thread.
    BackendServer(Path endpoint, Optional<Path> handoffEndpoint, ConnectionHandler handler, int maxConnections,
            ThreadFactory handlerThreadFactory) {
        this.endpoint = socketPath(endpoint, "endpoint");
        Objects.requireNonNull(handoffEndpoint, "handoffEndpoint (Optional.empty() for none)");
        this.handoffEndpoint = handoffEndpoint.map(path -> socketPath(path, "handoffEndpoint"));
        if (this.handoffEndpoint.isPresent() && sameFile(endpoint, this.handoffEndpoint.get())) {
            throw new IllegalArgumentException("handoffEndpoint " + this.handoffEndpoint.get()
                    + " is the endpoint itself: the two sockets need a path each");
        }
        this.handler = Objects.requireNonNull(handler, "handler");
        if (maxConnections < 1) {
            // A semaphore of 0 would hold the first client accepted for ever and refuse every handoff.
            throw new IllegalArgumentException("maxConnections must be at least 1, was " + maxConnections);
        }
        this.slots = new Semaphore(maxConnections);
        this.handlerThreads = Executors.newCachedThreadPool(
                Objects.requireNonNull(handlerThreadFactory, "handlerThreadFactory"));
    }

    /**
     * A path a socket can be bound at. Given a longer one, junixsocket binds at the path cut short
     * to 108 bytes, leaving a socket file there, and then fails with "sockname too long" or "No
     * such file or directory".
     */
    private static Path socketPath(Path path, String argument) {
        Objects.requireNonNull(path, argument);
        if (path.getFileName() == null || path.toString().isEmpty()) {
            throw new IllegalArgumentException(argument + " '" + path + "' names no socket file");
        }
        String tooLong = SocketFile.tooLongForAnAddress(path.toString());
        if (tooLong != null) {
            throw new IllegalArgumentException(argument + " " + path + " " + tooLong + " (choose a shorter path)");
        }
        return path;
    }

    private static boolean sameFile(Path one, Path other) {
        return one.toAbsolutePath().normalize().equals(other.toAbsolutePath().normalize());
    }

    /** A backend without a handoff endpoint: reconnecting clients only. */
    public BackendServer(Path endpoint, ConnectionHandler handler, int maxConnections) {
        this(endpoint, Optional.empty(), handler, maxConnections);
    }

    /**
     * As {@link #BackendServer(Path, Optional, ConnectionHandler, int)}, for a {@link StreamHandler}
     * written as a lambda, {@code (in, out) -> ...}, which the other constructor's type does not take.
     */
    public BackendServer(Path endpoint, Optional<Path> handoffEndpoint, StreamHandler handler, int maxConnections) {
        this(endpoint, handoffEndpoint, (ConnectionHandler) handler, maxConnections);
    }

    /** As {@link #BackendServer(Path, ConnectionHandler, int)}, for a {@link StreamHandler} written as a lambda. */
    public BackendServer(Path endpoint, StreamHandler handler, int maxConnections) {
        this(endpoint, Optional.empty(), handler, maxConnections);
    }

    /**
     * The users whose processes may open control connections to the handoff endpoint, in
     * place of the default (this process's user and root), for a broker that runs as
     * another user. Set before {@link #start}.
     *
     * @throws NullPointerException when {@code uids} is or holds null
     * @throws IllegalArgumentException when {@code uids} is empty or holds a number no user has
     *     (below 0, or above 4294967294)
     * @throws IllegalStateException once the server was started or closed
     */
    public synchronized BackendServer acceptHandoffsFrom(Set<Long> uids) {
        Objects.requireNonNull(uids, "uids");
        if (uids.isEmpty()) {
            throw new IllegalArgumentException(
                    "no user to accept handoffs from: leave the handoff endpoint out instead");
        }
        for (Long uid : uids) {
            Objects.requireNonNull(uid, "uids holds null");
            if (uid < 0 || uid > ProcessUser.MAX_UID) {
                throw new IllegalArgumentException("uids holds " + uid + ", which is no user id (0 to " + ProcessUser.MAX_UID
                        + ")");
            }
        }
        if (started || closed) {
            throw new IllegalStateException("already " + (started ? "started" : "closed")
                    + ": name the users before start()");
        }
        brokerUids = Set.copyOf(uids);
        return this;
    }

    /**
     * Bounds how long a read waits for a client's next bytes, on both routes, as a socket's
     * timeout does: a read that waits longer fails with a {@link SocketTimeoutException} (nothing
     * consumed; the connection stays open). A handler that lets it propagate has its connection
     * closed, logged at debug level. Without it, a client that stops sending without closing holds
     * its handler slot, one of {@code maxConnections}, until it does. By default reads wait for ever.
     * For any handler but a {@link StreamHandler} the bound is the socket's timeout, which
     * junixsocket applies to its writes as well, and which the handler may change (and its
     * {@code skip} reads until it has skipped all it was asked, where a StreamHandler's handed-off
     * input skips what has come). Set before
     * {@link #start}.
     *
     * @throws NullPointerException when {@code timeout} is null
     * @throws IllegalArgumentException when {@code timeout} is not positive, or longer than a socket
     *     timeout holds ({@value Integer#MAX_VALUE} ms)
     * @throws IllegalStateException once the server was started or closed
     */
    public synchronized BackendServer readTimeout(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (!timeout.isPositive() || timeout.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("timeout must be positive and at most " + Integer.MAX_VALUE
                    + " ms, not " + timeout);
        }
        if (started || closed) {
            throw new IllegalStateException("already " + (started ? "started" : "closed")
                    + ": set the read timeout before start()");
        }
        // Rounded up: a socket's timeout of 0 would mean none.
        readTimeoutMillis = (int) Math.max(1, timeout.plusNanos(999_999).toMillis());
        return this;
    }

    /**
     * How many reconnecting clients the kernel queues on {@code backend_pipe} while every handler
     * slot is taken (and the accept thread holds one more, waiting for a slot); a client beyond
     * them waits in its {@code connect} until there is room. By default
     * {@value BoundListener#DEFAULT_BACKLOG}. The broker's probe of a backend is such a client:
     * when the queue is full it gets no answer within its timeout, and the broker takes the
     * backend for down and refuses its new clients {@code BACKEND_SPAWN_FAILED} until a slot frees.
     * A backend whose clients come in bursts longer than its handlers can take raises it. The
     * kernel caps it at {@code net.core.somaxconn} (4096 on current Linux). Set before
     * {@link #start}.
     *
     * @throws IllegalArgumentException when {@code connections} is below 1
     * @throws IllegalStateException once the server was started or closed
     */
    public synchronized BackendServer backlog(int connections) {
        if (connections < 1) {
            throw new IllegalArgumentException("backlog must be at least 1, was " + connections);
        }
        if (started || closed) {
            throw new IllegalStateException("already " + (started ? "started" : "closed")
                    + ": set the backlog before start()");
        }
        backlog = connections;
        return this;
    }

    /**
     * Binds the endpoints and starts accepting. Each endpoint's directory is created {@code 0700}
     * when missing, and refused, as the broker refuses its own, when another user could change it:
     * owned by a user other than this process's (or root), group- or world-writable, or reached
     * through a directory or a symbolic link another user owns; whoever can change it can put a
     * listener of their own in the backend's place. A stale socket file is replaced; a live
     * listener at either path is refused, and so is a socket file this process may not connect
     * to, which leaves it unable to tell. A server starts once: a start that fails closes it (whatever it
     * had bound is released), and so does {@link #close()}; to try again, make a new one.
     *
     * @throws IllegalStateException when the server was started before or closed, before
     *     any socket is touched
     */
    public synchronized BackendServer start() throws IOException {
        if (closed) {
            throw new IllegalStateException("BackendServer for " + endpoint + " is closed"
                    + (startFailed ? " (its start failed)" : "")
                    + "; a closed server cannot be started again: create a new BackendServer");
        }
        if (started) {
            throw new IllegalStateException("BackendServer for " + endpoint + " is already started");
        }
        started = true;
        // Its refusal of an offer runs first when descriptors have run out; see ClassesAhead.
        ClassesAhead.load(BackendServer.class, "io.handoffbroker.backend", "io.handoffbroker.unix",
                "io.handoffbroker.wire");
        try {
            // The slot is taken after the accept, not before: a slot held while waiting in
            // accept() would be one the handoff route could never have.
            listener = BoundListener.start(endpoint, BACKEND_PIPE, backlog, "backend-accept", this::admit);
            if (handoffEndpoint.isPresent()) {
                HandoffListener handoffs = new HandoffListener(handoffEndpoint.get(), new SlotsForHandoffs(),
                        brokerUids);
                handoffs.start();
                handoffListener = handoffs;
            }
        } catch (IOException | RuntimeException | Error e) {
            startFailed = true;
            close();
            throw e;
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
        return open.size() + openStreams.size();
    }

    /** Accept thread: waits for a slot, then serves; gives up the connection if the server closes meanwhile. */
    private void admit(AFUNIXSocket connection) {
        try {
            while (!slots.tryAcquire(SLOT_POLL.toMillis(), TimeUnit.MILLISECONDS)) {
                BoundListener bound = listener;
                if (bound == null || bound.isClosing()) {
                    Descriptors.closeQuietly(connection);
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Descriptors.closeQuietly(connection);
            return;
        }
        serveOnThread(connection);
    }

    /** Handler slots for connections about to be adopted: none once the server is closed. */
    private final class SlotsForHandoffs implements HandoffListener.Adopter {

        @Override
        public @Nullable Slot reserve() {
            // Never an ACK that accepts what nobody will serve: a closed server's handler threads
            // are shut down, and what they would not take would reach the client as an end.
            if (closed || !slots.tryAcquire()) {
                return null;
            }
            return new Slot() {
                @Override
                public void serve(ReceivedDescriptor adopted) {
                    serveAdopted(adopted);
                }

                @Override
                public void release() {
                    slots.release();
                }
            };
        }

        @Override
        public String whyNoSlot() {
            return closed ? "backend closing" : "backend at capacity";
        }
    }

    /**
     * A handed-off connection, on a handler thread, off the ACK's path: a {@link StreamHandler}
     * gets file streams on the descriptor, any other handler a socket object made from it.
     */
    private void serveAdopted(ReceivedDescriptor received) {
        try {
            handlerThreads.execute(() -> {
                FileDescriptorCast adopted;
                try {
                    adopted = received.cast();
                } catch (IOException | RuntimeException e) {
                    notAdopted(received::close, e);
                    return;
                }
                if (handler instanceof StreamHandler streams && Posix.available()) {
                    serveStreams(adopted, streams);
                } else {
                    serveSocket(adopted);
                }
            });
        } catch (RejectedExecutionException | OutOfMemoryError noThread) {
            // Closed meanwhile, or no thread to be had (the process's thread limit): the client, told
            // its handoff was accepted, sees the end and connects again; the slot is not lost.
            notDispatched("handed-off", noThread);
            received.close();
            slots.release();
        }
    }

    /** A connection no handler thread took, which the caller closes: counted, and logged. */
    private void notDispatched(String route, Throwable why) {
        long count = notDispatched.incrementAndGet();
        if (closed && why instanceof RejectedExecutionException) {
            log.debug("backend {}: a {} connection came as the server closed; closing it ({} so far)", endpoint,
                    route, count);
        } else {
            log.warn("backend {}: no handler thread for a {} connection ({}); closing it ({} so far)", endpoint,
                    route, why.toString(), count);
        }
    }

    /** Connections closed unserved because no handler thread took them. */
    long connectionsNotDispatched() {
        return notDispatched.get();
    }

    private void serveSocket(FileDescriptorCast adopted) {
        AFUNIXSocket socket;
        try {
            socket = adopted.as(AFUNIXSocket.class);
            adoptedDescriptors.put(socket, socket.getFileDescriptor());
        } catch (IOException | RuntimeException e) {
            notAdopted(() -> closeDescriptor(adopted), e);
            return;
        }
        open.add(socket);
        if (closed) {
            finish(socket); // close() ran while the socket was being made: it never saw this one
            return;
        }
        serve(socket);
    }

    /** @param release closes the descriptor: by its number before it was cast, through the cast after */
    private void notAdopted(Runnable release, Exception why) {
        log.warn("backend {}: a handed-off connection could not be adopted: {}", endpoint, why.toString());
        release.run();
        slots.release();
    }

    private void serveStreams(FileDescriptorCast adopted, StreamHandler streams) {
        AdoptedStream connection;
        try {
            connection = AdoptedStream.adopt(adopted, readTimeoutMillis);
        } catch (IOException | RuntimeException e) {
            notAdopted(() -> closeDescriptor(adopted), e);
            return;
        }
        openStreams.add(connection);
        try {
            if (!closed) { // close() ran before this connection was known to it: never serve it
                streams.serve(connection.in(), connection.out());
            }
        } catch (IOException ended) {
            // Through file streams a reset or broken pipe is a plain IOException: the peer's doing,
            // as is a read that waited out the read timeout.
            log.debug("backend {}: connection ended: {}", endpoint, ended.toString());
        } catch (RuntimeException e) {
            log.warn("backend {}: handler failed: {}", endpoint, e.toString());
        } finally {
            try {
                connection.release();
            } catch (IOException e) {
                log.debug("backend {}: closing a connection failed: {}", endpoint, e.toString());
            }
            openStreams.remove(connection);
            slots.release();
        }
    }

    private static void closeDescriptor(FileDescriptorCast adopted) {
        Descriptors.closeReceivedQuietly(adopted.getFileDescriptor());
    }

    private void serveOnThread(AFUNIXSocket connection) {
        open.add(connection);
        try {
            handlerThreads.execute(() -> serve(connection));
        } catch (RejectedExecutionException | OutOfMemoryError noThread) {
            // Left to propagate, the error would end the accept thread, and with it this endpoint.
            notDispatched("reconnecting", noThread);
            finish(connection);
        }
    }

    private void serve(AFUNIXSocket connection) {
        try {
            if (readTimeoutMillis > 0) {
                connection.setSoTimeout(readTimeoutMillis);
            }
            handler.serve(connection);
        } catch (SocketException | SocketTimeoutException | EOFException closedOrSilent) {
            // The peer's doing, as on the other route, where file streams make every such failure an
            // IOException: a probe that closes at once ends a handler reading a whole record with EOF.
            log.debug("backend {}: connection ended: {}", endpoint, closedOrSilent.toString());
        } catch (IOException | RuntimeException e) {
            log.warn("backend {}: handler failed: {}", endpoint, e.toString());
        } finally {
            finish(connection);
        }
    }

    /** The end of every served connection: its descriptor, its place in the open set, its slot. */
    private void finish(AFUNIXSocket connection) {
        release(connection);
        open.remove(connection);
        slots.release();
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
        FileDescriptor adopted = adoptedDescriptors.remove(connection);
        if (adopted != null) {
            try {
                // Still valid only when close() shut the socket down first, which leaves it open.
                Descriptors.closeReceived(adopted);
            } catch (IOException e) {
                log.debug("backend {}: releasing a descriptor failed: {}", endpoint, e.toString());
            }
        }
    }

    /**
     * Closes the listeners and every open connection; the handlers see their sockets shut down.
     * The server cannot be started again. Closing again does nothing.
     */
    @Override
    public synchronized void close() {
        closed = true;
        HandoffListener handoffs = handoffListener;
        if (handoffs != null) {
            handoffs.close();
            handoffListener = null;
        }
        BoundListener bound = listener;
        if (bound != null) { // never bound: the socket file, if any, belongs to someone else
            bound.close();
            listener = null;
        }
        // Shutting down (not just closing) wakes each handler blocked in a read; the handler's
        // thread then releases the descriptor.
        open.forEach(Descriptors::closeQuietly);
        openStreams.forEach(AdoptedStream::shutdown);
        handlerThreads.shutdown();
    }
}
