package io.handoffbroker.server;

import com.sun.management.UnixOperatingSystemMXBean;
import io.handoffbroker.negotiation.HelloNegotiator;
import io.handoffbroker.unix.BoundSocketFile;
import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The broker's listener: binds the socket file, runs the event loop, and drains
 * on shutdown.
 *
 * <p>Shutdown ({@link #drain(Duration)}): from the first moment every Hello is
 * answered {@code SHUTTING_DOWN}. The loop shuts the listener for reading (from then on
 * the kernel refuses new connects), accepts what waits in the backlog, then unlinks the
 * socket file (so a successor can bind at once) and closes the listener, in one step on
 * the loop thread. The order matters: junixsocket's {@code accept} refuses to work once
 * the bound file is gone, so unlinking first would reset the queued clients instead of
 * answering them, and without the shutdown a connect landing after the last accept
 * would be reset by the close. Connections in flight (including detached handoffs) get until the grace
 * period ends; what is left then is closed.
 */
public final class BrokerServer implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(BrokerServer.class);

    private final ServerSettings settings;
    private final HelloNegotiator negotiator;
    private final ConnectionRouter router;
    private final BrokerEvents events;
    private final DrainState drainState;
    private final AtomicLong connectionIds = new AtomicLong();

    private volatile @Nullable EventLoop loop;
    private volatile Runnable onLoopFailure = () -> { };
    private @Nullable Thread loopThread;
    private volatile @Nullable BoundSocketFile boundFile;
    private volatile boolean listening;
    private volatile String waitingOn = "";

    public BrokerServer(ServerSettings settings, HelloNegotiator negotiator, ConnectionRouter router,
            BrokerEvents events, DrainState drainState) {
        this.settings = Objects.requireNonNull(settings);
        this.negotiator = Objects.requireNonNull(negotiator);
        this.router = Objects.requireNonNull(router);
        this.events = Objects.requireNonNull(events);
        this.drainState = Objects.requireNonNull(drainState);
    }

    /**
     * Fails, without side effects beyond creating the private directory, when the
     * socket path cannot be bound: checked before anything else starts, so a second
     * broker never touches the first one's files.
     */
    public void checkSocketPath() throws IOException {
        SocketFile.preparePrivateParent(settings.socketPath(), SocketFile.Party.BROKER);
        SocketFile.checkClaimable(settings.socketPath(), SocketFile.Party.BROKER);
    }

    /** Binds the socket and starts accepting. Fails with the path and the reason when it cannot. */
    public synchronized void start() throws IOException {
        if (loop != null) {
            throw new IllegalStateException("broker already started");
        }
        Path path = settings.socketPath();
        SocketFile.preparePrivateParent(path, SocketFile.Party.BROKER);
        SocketFile.claim(path, SocketFile.Party.BROKER);
        AFUNIXServerSocketChannel listener = AFUNIXServerSocketChannel.open();
        Readiness readiness = null;
        try {
            // junixsocket would unlink the path on close even if a successor has bound it by then;
            // removeSocketFile() does it only while the file is still ours.
            listener.setDeleteOnClose(false);
            listener.bind(AFUNIXSocketAddress.of(path), settings.backlog());
            boundFile = BoundSocketFile.identify(path); // from the bind on, a failed start removes the file
            Files.setPosixFilePermissions(path,
                    PosixFilePermissions.fromString(settings.peerPolicy().isPrivate() ? "rw-------" : "rw-rw-rw-"));
            readiness = Readiness.open();
            waitingOn = readiness.kind();
            EventLoop eventLoop = new EventLoop(listener, readiness, settings, negotiator, router, events,
                    connectionIds, this::listenerClosed, this::loopFailed);
            Thread thread = Thread.ofPlatform().name("broker-io").daemon(false).unstarted(eventLoop);
            loop = eventLoop;
            loopThread = thread;
            listening = true;
            thread.start();
        } catch (IOException | RuntimeException e) {
            if (readiness != null) {
                Descriptors.closeQuietly(readiness);
            }
            Descriptors.closeQuietly(listener);
            removeSocketFile();
            throw e;
        }
        log.info("broker listening on {} (hello timeout {} ms, max {} connections, peer policy {}, waiting on {})",
                path, settings.helloTimeout().toMillis(), settings.maxConnections(), settings.peerPolicy(), waitingOn);
        if (ManagementFactory.getOperatingSystemMXBean() instanceof UnixOperatingSystemMXBean os) {
            String warning = openFilesWarning(settings.maxConnections(), os.getMaxFileDescriptorCount());
            if (warning != null) {
                log.warn(warning);
            }
        }
    }

    // Room for what is not a client connection: the JVM's own files, control connections, probes.
    private static final int OTHER_DESCRIPTORS = 256;

    /** What to tell the operator when the connection limit cannot be reached within the open-files limit. */
    static @Nullable String openFilesWarning(int maxConnections, long openFilesLimit) {
        if (openFilesLimit <= 0 || (long) maxConnections + OTHER_DESCRIPTORS <= openFilesLimit) {
            return null;
        }
        return "broker.max-connections (" + maxConnections + ") plus about " + OTHER_DESCRIPTORS
                + " other descriptors exceeds this process's open-files limit (" + openFilesLimit + "): accepting "
                + "will fail with 'Too many open files' before the connection limit is reached; raise the limit "
                + "(ulimit -n, --ulimit nofile=...) or lower broker.max-connections";
    }

    /**
     * Runs {@code action} if the event loop ever fails (an error it cannot survive), after it
     * has closed the listener and the connections it still owned (or tried to): such a broker
     * serves nobody until restarted. Set before {@link #start()}.
     */
    public void onLoopFailure(Runnable action) {
        this.onLoopFailure = Objects.requireNonNull(action);
    }

    /** What the event loop waits on, {@code epoll} or {@code selector}; empty before the first start. */
    public String waitingOn() {
        return waitingOn;
    }

    /** Whether new connections are taken, and if not why. */
    public AcceptState acceptState() {
        EventLoop l = loop;
        return listening && l != null ? l.acceptState() : AcceptState.CLOSED;
    }

    /** True while the listener is bound and taking new connections. */
    public boolean isAccepting() {
        return acceptState() == AcceptState.ACCEPTING;
    }

    /** True while the listener is bound (it may be paused at the connection limit). */
    public boolean isListening() {
        return listening;
    }

    /** Why accepting failed (out of descriptors, typically), while it backs off after it; else null. */
    public @Nullable String acceptFailure() {
        EventLoop l = loop;
        return listening && l != null ? l.acceptFailure() : null;
    }

    /**
     * Whether clients can still find this listener: false when the socket file was removed or
     * replaced (by a cleaner of temporary files, say) while the listener still runs; then no
     * new client can connect however healthy the loop is.
     */
    public boolean socketFileIsOurs() {
        BoundSocketFile bound = boundFile;
        try {
            return bound != null && bound.isStillOurs();
        } catch (IOException e) {
            return false;
        }
    }

    public boolean isDraining() {
        return drainState.isDraining();
    }

    /** Client connections currently open, including those detached for a handoff. */
    public int openConnections() {
        EventLoop l = loop;
        return l == null ? 0 : l.openConnections();
    }

    public Path socketPath() {
        return settings.socketPath();
    }

    /**
     * Memory taken by Hellos being received, beyond the first kilobyte of each; 0 when not listening.
     * Any thread: the gauge of the same name reads it.
     */
    public long helloMemoryTaken() {
        EventLoop l = loop;
        return l == null ? 0 : l.helloMemoryTaken();
    }

    /** Connections accepted since start; the last connection id issued. */
    public long connectionsAccepted() {
        return connectionIds.get();
    }

    /**
     * Stops taking new work and waits up to {@code grace} for open connections to
     * finish, then stops the loop. Blocks the caller; safe to call more than once.
     */
    public void drain(Duration grace) {
        EventLoop l = loop;
        if (l == null) {
            return;
        }
        if (drainState.begin()) {
            log.info("draining: answering SHUTTING_DOWN, removing the socket file, waiting up to {} ms for {} connection(s)",
                    grace.toMillis(), l.openConnections());
            l.execute(() -> l.closeListenerAfterBacklog(this::removeSocketFile));
        }
        long deadline = System.nanoTime() + grace.toNanos();
        try {
            while (l.openConnections() > 0 && System.nanoTime() - deadline < 0) {
                Thread.sleep(10);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (l.openConnections() > 0) {
            log.warn("grace period of {} ms over; closing {} connection(s) still open", grace.toMillis(),
                    l.openConnections());
        }
        close();
    }

    /** Stops at once: closes the listener and every connection the loop owns, removes the socket file. */
    @Override
    public synchronized void close() {
        EventLoop l = loop;
        Thread t = loopThread;
        if (l == null || t == null) {
            return;
        }
        l.stop();
        try {
            t.join(Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        listening = false;
        removeSocketFile();
        loop = null;
        loopThread = null;
        log.info("broker stopped");
    }

    // Event loop thread: the drain closed the listener.
    private void listenerClosed() {
        listening = false;
    }

    // Event loop thread, after it closed what it owned.
    private void loopFailed() {
        listening = false;
        onLoopFailure.run();
    }

    // Removes the socket file only if it is still the one we bound: a successor may already own the path.
    private void removeSocketFile() {
        BoundSocketFile bound = boundFile;
        if (bound == null) {
            return;
        }
        try {
            bound.removeIfStillOurs();
        } catch (IOException e) {
            log.warn("could not remove socket file {}: {}", bound, e.toString());
        }
    }
}
