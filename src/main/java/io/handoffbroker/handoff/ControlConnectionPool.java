package io.handoffbroker.handoff;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.unix.PeerUidNotAllowedException;
import io.handoffbroker.unix.ThrottledWarning;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.commons.pool2.BasePooledObjectFactory;
import org.apache.commons.pool2.PooledObject;
import org.apache.commons.pool2.PooledObjectState;
import org.apache.commons.pool2.impl.DefaultPooledObject;
import org.apache.commons.pool2.impl.GenericObjectPool;
import org.apache.commons.pool2.impl.GenericObjectPoolConfig;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pooled control connections, one Apache Commons Pool per handoff endpoint.
 *
 * <p>Every connection is validated on borrow with one {@code poll(2)} that must find
 * nothing to read and no hang-up ({@link ControlConnection#isClean()}): a backend that closed after its last
 * exchange, or left bytes in the stream, is never handed out, so a backend that
 * closes after each exchange simply makes the pool dial per handoff. A connection
 * whose exchange could have left an ACK in its stream is never returned: it is
 * {@linkplain #invalidate destroyed} or {@linkplain #quarantine quarantined}.
 *
 * <p>Who listens at an endpoint is checked where a connection is dialled, once: when the
 * services that hand connections to it name the uids its listener may run as
 * ({@code handoff-endpoint-uids}), a connection whose peer ({@code SO_PEERCRED}) runs as
 * another is closed before anything is sent on it, never pooled, reported to the
 * {@link HandoffEvents} and logged (at most one warning per endpoint every 10 s). Every
 * connection in the pool passed that check when it was dialled, so borrowing one checks
 * nothing more.
 */
public final class ControlConnectionPool implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControlConnectionPool.class);

    /** Sizes for status and metrics. */
    public record Stats(int idle, int active) {
    }

    // Commons Pool dials on the calling thread when it finds no idle connection, or to refill a
    // freed slot for a waiting borrower; bound around work on the event loop, it forbids that.
    private static final ScopedValue<Boolean> NO_DIAL = ScopedValue.newInstance();
    // The handoff's deadline, for a dial Commons Pool makes on the borrowing thread.
    private static final ScopedValue<Long> DIAL_BY = ScopedValue.newInstance();
    private static final Duration POLL_WAIT = Duration.ofMillis(1);

    private final PoolSettings settings;
    private final HandoffEvents events;
    private final Map<Path, GenericObjectPool<ControlConnection>> pools = new ConcurrentHashMap<>();
    // Endpoints registered for their services: whom a refused listener is reported for, and which
    // uids it may run as. An endpoint not here takes a listener of any uid.
    private final Map<Path, Served> served = new ConcurrentHashMap<>();
    // Endpoints whose backend was last seen closing a control connection after an exchange, and
    // when: for a while their connections are not reused; a restarted backend is tried again later.
    private final Map<Path, Long> closedAfterExchangeAt = new ConcurrentHashMap<>();
    private static final long RELEARN_AFTER_NANOS = TimeUnit.MINUTES.toNanos(1);

    public ControlConnectionPool(PoolSettings settings) {
        this(settings, HandoffEvents.NONE);
    }

    /** @param events told of each dialled connection closed unused because of who listens */
    public ControlConnectionPool(PoolSettings settings, HandoffEvents events) {
        this.settings = settings;
        this.events = events;
    }

    /**
     * Creates the pool of the backend's handoff endpoint, so that it shows in status before the
     * first handoff. Its connections reach only a listener that runs as one of the backend's
     * {@link ServiceBackend#handoffEndpointUids()} (any, when it names none); every backend that
     * shares the endpoint must name the same uids.
     *
     * @throws IllegalArgumentException when the backend has no handoff endpoint, or another
     *     backend registered for it names other uids
     */
    public void register(ServiceBackend backend) {
        Path endpoint = backend.handoffEndpoint().orElseThrow(
                () -> new IllegalArgumentException(backend.label() + " has no handoff endpoint"));
        Served endpointServed = served.computeIfAbsent(endpoint, p -> new Served(backend.handoffEndpointUids()));
        if (!endpointServed.allowedUids.equals(backend.handoffEndpointUids())) {
            throw new IllegalArgumentException("handoff endpoint " + endpoint + ": " + backend.label() + " allows uids "
                    + backend.handoffEndpointUids() + ", " + endpointServed.labels() + " " + endpointServed.allowedUids
                    + "; one listener runs as one uid");
        }
        endpointServed.backends.add(backend);
        poolFor(endpoint);
    }

    /** Dials the minimum idle connections of every registered endpoint; a backend that is down is not an error. */
    public void prepareAll() {
        pools.keySet().forEach(this::prepare);
    }

    /** Creates the endpoint's pool and dials its minimum idle connections; a backend that is down is not an error. */
    public void prepare(Path endpoint) {
        try {
            poolFor(endpoint).preparePool();
        } catch (Exception e) {
            log.info("handoff endpoint {}: could not pre-dial control connections yet: {}", endpoint, e.toString());
        }
    }

    /**
     * A clean connection to the endpoint, for a handoff that must be offered by
     * {@code deadlineNanos} ({@link System#nanoTime()}): waits for a free one at most the
     * borrow timeout, and dials (when the pool has room) at most the dial timeout, neither
     * past the deadline, since a descriptor sent after it could only end ambiguous.
     *
     * @throws NoSuchElementException when no connection was free within the wait, or the
     *     deadline left no time to wait or to dial
     * @throws java.net.SocketTimeoutException when a dial did not complete in time (the
     *     backend does not accept)
     * @throws IOException when a dial failed, or the backend closed (or wrote on) the new
     *     connection before anything was offered on it
     */
    public ControlConnection borrow(Path endpoint, long deadlineNanos) throws Exception {
        long left = nanosLeft(deadlineNanos, endpoint, "was taken");
        // Not under a millisecond: Commons Pool reads a zero wait as "no limit" (see pollIdle).
        Duration wait = min(settings.borrowTimeout(), Duration.ofNanos(Math.max(left, POLL_WAIT.toNanos())));
        try {
            return ScopedValue.where(DIAL_BY, deadlineNanos).call(() -> poolFor(endpoint).borrowObject(wait));
        } catch (NoSuchElementException e) {
            // A new connection that failed its validation: the pool's words are "Unable to validate
            // object", and what the validation threw is their cause.
            if (e.getCause() instanceof UnusableBeforeAnyOffer unusable) {
                throw new IOException(unusable.getMessage(), e);
            }
            throw e;
        }
    }

    /** What is left before the deadline; none left means no connection, for a reason that is ours. */
    private static long nanosLeft(long deadlineNanos, Path endpoint, String step) {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
            throw new NoSuchElementException("the deadline passed before a control connection to " + endpoint + " "
                    + step);
        }
        return left;
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /**
     * A clean idle connection to the endpoint if one is ready now, else null: never
     * dials and waits at most a millisecond (when another thread takes the last idle
     * connection meanwhile), so the event loop may call it.
     */
    public @Nullable ControlConnection pollIdle(Path endpoint) {
        GenericObjectPool<ControlConnection> pool = pools.get(endpoint);
        if (pool == null || pool.getNumIdle() == 0) {
            return null;
        }
        try {
            // Not Duration.ZERO: Commons Pool reads a zero wait as "no limit" while another thread
            // is dialling at full capacity. One millisecond bounds the loop's wait in that race.
            return withoutDialling(() -> pool.borrowObject(POLL_WAIT));
        } catch (Exception raced) {
            // Another thread took the last idle connection (and this one may not dial).
            return null;
        }
    }

    /** Returns a connection whose last exchange left its stream clean. */
    public void release(ControlConnection connection) {
        GenericObjectPool<ControlConnection> pool = pools.get(connection.endpoint());
        if (pool == null) {
            connection.close();
            return;
        }
        Long seen = closedAfterExchangeAt.get(connection.endpoint());
        if (seen != null && System.nanoTime() - seen < RELEARN_AFTER_NANOS) {
            // Reusing it would race the backend's close: an offer written just before the close
            // arrives is lost, and ownership of its descriptor becomes ambiguous.
            invalidate(connection);
            return;
        }
        pool.returnObject(connection);
    }

    /** True on a thread that must not dial: the event loop, inside {@link #withoutDialling}. */
    static boolean dialsForbidden() {
        return NO_DIAL.isBound();
    }

    /**
     * Closes a connection that must not be reused and frees its slot, without dialling on the
     * calling thread: that is the event loop, or a worker with a client of its own to tell.
     * Commons Pool may wait while freeing the slot when a borrower waits for it, so then, and
     * always on the event loop, both happen on a thread of their own. A borrower waiting for
     * the slot gets a connection dialled on a thread of its own; otherwise the evictor and the
     * next borrow refill the pool.
     */
    public void invalidate(ControlConnection connection) {
        GenericObjectPool<ControlConnection> pool = pools.get(connection.endpoint());
        if (pool == null) {
            connection.close();
            return;
        }
        if (dialsForbidden() || pool.getNumWaiters() > 0) {
            // Neither the event loop nor a worker's deadline may wait, and Commons Pool may:
            // with a borrower waiting, invalidateObject asks for a replacement, which waits (up
            // to the borrow timeout) while the pool is full and another thread dials. The slot
            // is freed a moment later, elsewhere.
            Thread.ofVirtual().name("broker-pool-discard").start(() -> discard(connection, pool));
            return;
        }
        discard(connection, pool);
    }

    private void discard(ControlConnection connection, GenericObjectPool<ControlConnection> pool) {
        try {
            // Commons Pool would refill the slot for a waiting borrower right here, dialling for up
            // to the whole dial timeout, whatever the calling thread's own deadline.
            withoutDialling(() -> {
                pool.invalidateObject(connection);
                return null;
            });
        } catch (Exception refillRefused) {
            // The connection was destroyed before the refill failed; a quarantined one is the
            // watcher's to close, never ours.
            if (!connection.isQuarantined()) {
                connection.close();
            }
        }
        if (pool.getNumWaiters() > 0) {
            // Commons Pool looks at a freed slot only once, here: a borrower waiting for it would
            // sit out its whole wait. Dial for it elsewhere.
            Thread.ofVirtual().name("broker-pool-refill").start(() -> refill(connection.endpoint(), pool));
        }
    }

    private static void refill(Path endpoint, GenericObjectPool<ControlConnection> pool) {
        try {
            pool.addObject();
            if (pool.isClosed()) {
                pool.clear(); // closed while this dial ran: Commons Pool kept the connection anyway
            }
        } catch (Exception e) {
            log.info("handoff endpoint {}: could not dial a control connection for a waiting handoff: {}", endpoint,
                    e.toString());
        }
    }

    /** Runs {@code step} with dialling forbidden to the pool on this thread: for the event loop. */
    public static void withoutDialling(Runnable step) {
        ScopedValue.where(NO_DIAL, Boolean.TRUE).run(step);
    }

    private static <T> T withoutDialling(ScopedValue.CallableOp<T, Exception> poolCall) throws Exception {
        return ScopedValue.where(NO_DIAL, Boolean.TRUE).call(poolCall);
    }

    /** Frees the connection's slot without closing it: the caller (the late-ACK watcher) now owns and closes it. */
    public void quarantine(ControlConnection connection) {
        connection.quarantine();
        invalidate(connection);
    }

    /** Borrowers waiting for a connection to the endpoint right now. */
    int waiters(Path endpoint) {
        GenericObjectPool<ControlConnection> pool = pools.get(endpoint);
        return pool == null ? 0 : pool.getNumWaiters();
    }

    /** One check of the endpoint's idle connections now, as the maintenance timer makes: for tests. */
    void checkIdleNow(Path endpoint) throws Exception {
        GenericObjectPool<ControlConnection> pool = pools.get(endpoint);
        if (pool != null) {
            pool.evict();
        }
    }

    public Stats stats(Path endpoint) {
        GenericObjectPool<ControlConnection> pool = pools.get(endpoint);
        return pool == null ? new Stats(0, 0) : new Stats(pool.getNumIdle(), pool.getNumActive());
    }

    private GenericObjectPool<ControlConnection> poolFor(Path endpoint) {
        return pools.computeIfAbsent(endpoint, this::newPool);
    }

    private GenericObjectPool<ControlConnection> newPool(Path endpoint) {
        GenericObjectPoolConfig<ControlConnection> config = new GenericObjectPoolConfig<>();
        config.setMaxTotal(settings.maxSize());
        config.setMaxIdle(settings.maxSize());
        config.setMinIdle(settings.minIdle());
        config.setBlockWhenExhausted(true);
        config.setMaxWait(settings.borrowTimeout());
        config.setTestOnBorrow(true);
        config.setTestWhileIdle(true);
        config.setLifo(true);
        config.setTimeBetweenEvictionRuns(settings.maintenanceInterval());
        config.setJmxEnabled(false);
        return new GenericObjectPool<>(new Factory(endpoint), config);
    }

    @Override
    public void close() {
        pools.values().forEach(GenericObjectPool::close);
        pools.clear();
    }

    /** A dialled connection was closed unused: its listener runs as a uid the endpoint's services do not allow. */
    private void refused(Path endpoint, Served endpointServed, PeerUidNotAllowedException stranger) {
        Set<String> reported = new HashSet<>();
        for (ServiceBackend backend : endpointServed.backends) {
            // Counted once per service, whose metrics are per service, not per version.
            if (reported.add(backend.name())) {
                events.handoffEndpointRejected(backend, stranger.uid(), stranger.pid());
            }
        }
        // A backend replaced for good would be refused at every dial: workers, the evictor, refills.
        endpointServed.refusals.count(count -> log.warn("handoff endpoint {} of {}: {} control connection(s) "
                + "closed unused since the last such warning: the process listening there (pid {}) runs as uid {}, "
                + "and handoff-endpoint-uids allows {} only; no client connection is handed to it, and its clients "
                + "reconnect through backend_pipe (permission_denied). Find out who replaced the socket file, or name "
                + "the backend's uid there", endpoint, endpointServed.labels(), count, stranger.pid(), stranger.uid(),
                endpointServed.allowedUids));
    }

    /** The backends that hand connections to one endpoint, and the uids its listener may run as. */
    private static final class Served {

        final Set<Long> allowedUids;
        final List<ServiceBackend> backends = new CopyOnWriteArrayList<>();
        final ThrottledWarning refusals = new ThrottledWarning();

        Served(Set<Long> allowedUids) {
            this.allowedUids = allowedUids;
        }

        String labels() {
            return backends.stream().map(ServiceBackend::label).collect(Collectors.joining(", "));
        }
    }

    /**
     * A control connection the backend closed, or wrote on, before the broker offered anything on
     * it; unchecked, as the pool's validation allows; thrown by the validation for a borrower only,
     * and never past {@link #borrow}.
     */
    private static final class UnusableBeforeAnyOffer extends RuntimeException {

        UnusableBeforeAnyOffer(boolean closed) {
            super(closed ? "the backend closed a new control connection before any offer (a backend SDK closes one"
                    + " at once when it does not accept the broker's uid, see BackendServer.acceptHandoffsFrom, or"
                    + " has no control place left; its log says which)"
                    : "the backend wrote on a new control connection before any offer", null, false, false);
        }
    }

    private final class Factory extends BasePooledObjectFactory<ControlConnection> {

        private final Path endpoint;
        private final ThrottledWarning strayBytes = new ThrottledWarning();

        Factory(Path endpoint) {
            this.endpoint = endpoint;
        }

        @Override
        public ControlConnection create() throws Exception {
            if (dialsForbidden()) {
                throw new NoSuchElementException("no idle control connection to " + endpoint);
            }
            Duration timeout = settings.dialTimeout();
            if (DIAL_BY.isBound()) {
                timeout = min(timeout, Duration.ofNanos(nanosLeft(DIAL_BY.get(), endpoint, "could be dialled")));
            }
            Served endpointServed = served.get(endpoint);
            try {
                return ControlConnection.dial(endpoint, timeout,
                        endpointServed == null ? Set.of() : endpointServed.allowedUids);
            } catch (PeerUidNotAllowedException stranger) {
                refused(endpoint, Objects.requireNonNull(endpointServed), stranger);
                throw stranger;
            }
        }

        @Override
        public PooledObject<ControlConnection> wrap(ControlConnection connection) {
            return new DefaultPooledObject<>(connection);
        }

        @Override
        public boolean validateObject(PooledObject<ControlConnection> pooled) {
            ControlConnection connection = pooled.getObject();
            boolean clean = connection.isClean();
            if (clean) {
                return true;
            }
            if (connection.exchanges() == 0) {
                if (pooled.getState() == PooledObjectState.ALLOCATED) {
                    // Thrown, not returned, for a borrower only: for a connection just dialled the pool
                    // passes it on (see borrow), for an idle one it discards the connection as for false.
                    // The evictor would end its round at such a throw, leaving the idle ones after it unchecked.
                    throw new UnusableBeforeAnyOffer(connection.closedByPeer());
                }
                return false;
            }
            // Unclean after an exchange that left it clean: unusable by the next one.
            if (!connection.closedByPeer()) {
                // Bytes after the ACK: this connection is spoilt, the backend's others need not be.
                strayBytes.count(count -> log.warn("handoff endpoint {}: {} control connection(s) closed since the "
                        + "last such warning because the backend wrote more than its ACK on them", endpoint, count));
            } else if (closedAfterExchangeAt.put(endpoint, System.nanoTime()) == null) {
                // A restart closes every connection too: which of the two it was, only time tells.
                log.info("handoff endpoint {}: the backend closed a control connection after its exchange (it"
                        + " restarted, or it does not keep control connections); dialling one per handoff for {} s",
                        endpoint, TimeUnit.NANOSECONDS.toSeconds(RELEARN_AFTER_NANOS));
            }
            return false;
        }

        @Override
        public void destroyObject(PooledObject<ControlConnection> pooled) {
            if (!pooled.getObject().isQuarantined()) {
                pooled.getObject().close();
            }
        }
    }
}
