package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.config.BrokerLifecycle;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.DescriptorExhaustion;
import io.handoffbroker.testing.FrozenListener;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.OutOfResourcesException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;

class ControlConnectionPoolTest {

    @TempDir
    Path dir;

    @Test
    void aConnectionDiscardedOnTheEventLoopIsReplacedForAWorkerWaitingForItsSlot() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        try (AFUNIXServerSocketChannel backend = listen(endpoint);
                ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(1))) {
            ControlConnection held = pool.borrow(endpoint, later());
            CompletableFuture<ControlConnection> waiting = waitingForTheOnlySlot(pool, endpoint);
            long discarded = System.nanoTime();
            ControlConnectionPool.withoutDialling(() -> pool.invalidate(held)); // as the event loop does
            ControlConnection replacement = waiting.get(4, TimeUnit.SECONDS);
            assertThat(replacement).isNotSameAs(held);
            // Not after the 5 s borrow timeout: the slot was refilled for it at once.
            assertThat(Duration.ofNanos(System.nanoTime() - discarded)).isLessThan(Duration.ofSeconds(2));
            pool.release(replacement);
        }
    }

    @Test
    void aConnectionDiscardedOnAWorkerIsReplacedWithoutThatWorkerWaitingForTheDial() throws Exception {
        Path endpoint = dir.resolve("frozen.sock");
        try (FrozenListener backend = FrozenListener.at(endpoint);
                ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(5))) {
            backend.makeRoom();
            ControlConnection held = pool.borrow(endpoint, later()); // the backlog is full again after it
            CompletableFuture<ControlConnection> waiting = waitingForTheOnlySlot(pool, endpoint);
            long started = System.nanoTime();
            pool.invalidate(held); // on this thread, as a worker whose handoff failed does
            assertThat(Duration.ofNanos(System.nanoTime() - started))
                    .as("the discarding worker did not wait out the 5 s dial to a backlog that stays full")
                    .isLessThan(Duration.ofSeconds(2));
            assertThat(waiting).isNotDone();
            backend.makeRoom();
            ControlConnection replacement = waiting.get(4, TimeUnit.SECONDS);
            assertThat(replacement).isNotSameAs(held);
            pool.release(replacement);
        }
    }

    @Test
    void backendsSharingAHandoffEndpointMustAllowTheSameUids() {
        Path endpoint = dir.resolve("handoff.sock");
        ServiceBackend first = HandoffFixture.handoffService(dir.resolve("a.sock"), endpoint)
                .withHandoffEndpointUids(List.of(1000L));
        ServiceBackend sameUids = new ServiceBackend("other", first.version(), dir.resolve("b.sock"),
                Optional.of(endpoint), true, Optional.empty(), List.of()).withHandoffEndpointUids(List.of(1000L));
        ServiceBackend otherUids = sameUids.withHandoffEndpointUids(List.of(1001L));
        try (ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(1))) {
            pool.register(first);
            pool.register(sameUids);
            assertThatThrownBy(() -> pool.register(otherUids)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("[1001]").hasMessageContaining("echo@1.2.3, other@1.2.3 [1000]");
        }
    }

    @Test
    void aBorrowWaitsForABusyPoolNoLongerThanItsDeadline() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        try (AFUNIXServerSocketChannel backend = listen(endpoint);
                ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(1))) {
            ControlConnection held = pool.borrow(endpoint, later());
            long started = System.nanoTime();
            assertThatThrownBy(() -> pool.borrow(endpoint, started + Duration.ofMillis(150).toNanos()))
                    .isInstanceOf(NoSuchElementException.class);
            Duration waited = Duration.ofNanos(System.nanoTime() - started);
            assertThat(waited).as("waited for the only connection").isGreaterThanOrEqualTo(Duration.ofMillis(140));
            assertThat(waited).as("not the 5 s borrow timeout").isLessThan(Duration.ofSeconds(2));
            pool.release(held);
        }
    }

    @Test
    void aDialToAListenerThatDoesNotAcceptEndsAtTheDeadlineNotTheDialTimeout() throws Exception {
        Path endpoint = dir.resolve("frozen.sock");
        try (FrozenListener frozen = FrozenListener.at(endpoint);
                ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(5))) {
            long started = System.nanoTime();
            assertThatThrownBy(() -> pool.borrow(endpoint, started + Duration.ofMillis(150).toNanos()))
                    .isInstanceOf(SocketTimeoutException.class).hasMessageContaining("does not accept");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).as("not the 5 s dial timeout")
                    .isLessThan(Duration.ofSeconds(2));
            assertThat(pool.stats(endpoint)).as("the failed dial holds no slot")
                    .isEqualTo(new ControlConnectionPool.Stats(0, 0));
        }
    }

    @Test
    void aBorrowWhoseDeadlineHasPassedNeitherWaitsNorDials() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        try (AFUNIXServerSocketChannel backend = listen(endpoint);
                ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(5))) {
            backend.configureBlocking(false);
            assertThatThrownBy(() -> pool.borrow(endpoint, System.nanoTime() - 1))
                    .isInstanceOf(NoSuchElementException.class).hasMessageContaining("deadline passed");
            assertThat(backend.accept()).as("a connection the pool dialled").isNull();
        }
    }

    @Test
    void aNewConnectionTheBackendClosesAtOnceFailsItsBorrowSayingWhy() throws Exception {
        Path endpoint = dir.resolve("closing.sock");
        try (AFUNIXServerSocketChannel backend = listen(endpoint);
                ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(1))) {
            // As a backend SDK that does not accept the broker's uid: each connection closed once accepted.
            Thread closing = Thread.ofPlatform().daemon().start(() -> {
                while (true) {
                    try {
                        backend.accept().close();
                    } catch (IOException closed) {
                        return;
                    }
                }
            });
            // Whether the close comes before the borrow's validation is a race: borrowed before it, a
            // connection is handed out as one the backend had not closed yet.
            int told = 0;
            int borrows = 0;
            while (told == 0 && borrows++ < 2_000) {
                try {
                    pool.invalidate(pool.borrow(endpoint, later()));
                } catch (IOException e) {
                    assertThat(e).hasMessageContaining("the backend closed a new control connection before any offer")
                            .hasMessageContaining("BackendServer.acceptHandoffsFrom");
                    told++;
                }
            }
            assertThat(told).as("a borrow that met the close was told why, not the pool's 'Unable to validate'")
                    .isEqualTo(1);
            backend.close();
            closing.join(5_000);
        }
    }

    @Test
    void oneCheckOfIdleConnectionsDiscardsEveryOneTheBackendClosedNotOnlyTheFirst() throws Exception {
        Path endpoint = dir.resolve("restarted.sock");
        try (AFUNIXServerSocketChannel backend = listen(endpoint);
                ControlConnectionPool pool = new ControlConnectionPool(new PoolSettings(3, 3, Duration.ofSeconds(5),
                        Duration.ofSeconds(1), Duration.ofMinutes(1)))) {
            pool.prepare(endpoint);
            assertThat(pool.stats(endpoint)).isEqualTo(new ControlConnectionPool.Stats(3, 0));
            for (int i = 0; i < 3; i++) {
                backend.accept().close(); // as a backend that restarted
            }
            pool.checkIdleNow(endpoint);
            // A validation that threw for the first ended the check there, and the other two stayed.
            assertThat(pool.stats(endpoint)).isEqualTo(new ControlConnectionPool.Stats(0, 0));
        }
    }

    @Test
    void aDialThatGetsItsSocketButNoSelectorSaysThisProcessIsOutOfResources() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        try (AFUNIXServerSocketChannel backend = listen(endpoint);
                ControlConnectionPool pool = poolOfOne(Duration.ofSeconds(1))) {
            BrokerLifecycle.loadClassesAhead(); // as the application does: loading a class takes a file
            pool.invalidate(pool.borrow(endpoint, later())); // loads what a dial needs; the next one dials again
            Exception failed = null;
            // One number left: the socket takes it, and the selector needs two more.
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(1)) {
                pool.borrow(endpoint, later());
            } catch (Exception e) {
                failed = e;
            }
            assertThat(failed).isInstanceOf(OutOfResourcesException.class)
                    .hasMessageContaining("this process could not open a selector for a control connection");
        }
    }

    /**
     * A borrow on another thread, as another worker's, with a deadline no test reaches, once it
     * waits in the pool for the only slot.
     */
    private static CompletableFuture<ControlConnection> waitingForTheOnlySlot(ControlConnectionPool pool,
            Path endpoint) {
        CompletableFuture<ControlConnection> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return pool.borrow(endpoint, later());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(RecordingHandoffEvents.awaitTrue(() -> pool.waiters(endpoint) == 1, Duration.ofSeconds(5)))
                .as("another worker waits in the pool for the only slot").isTrue();
        return waiting;
    }

    /** A backend's handoff endpoint that takes connections into its backlog and never reads. */
    private static AFUNIXServerSocketChannel listen(Path endpoint) throws Exception {
        AFUNIXServerSocketChannel backend = AFUNIXServerSocketChannel.open();
        backend.bind(AFUNIXSocketAddress.of(endpoint), 16);
        return backend;
    }

    /** One connection at most, a 5 s borrow timeout, nothing pre-dialled. */
    private static ControlConnectionPool poolOfOne(Duration dialTimeout) {
        return new ControlConnectionPool(new PoolSettings(1, 0, Duration.ofSeconds(5), dialTimeout,
                Duration.ofMinutes(1)));
    }

    // A deadline no test reaches.
    private static long later() {
        return System.nanoTime() + Duration.ofMinutes(1).toNanos();
    }
}
