package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.testing.FrozenListener;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.NoSuchElementException;
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
        try (AFUNIXServerSocketChannel backend = AFUNIXServerSocketChannel.open()) {
            backend.bind(AFUNIXSocketAddress.of(endpoint), 16);
            ControlConnectionPool pool = new ControlConnectionPool(new PoolSettings(1, 0, Duration.ofSeconds(5),
                    Duration.ofSeconds(1), Duration.ofMinutes(1)));
            try {
                pool.register(endpoint);
                ControlConnection held = pool.borrow(endpoint, later());
                CompletableFuture<ControlConnection> waiting = CompletableFuture.supplyAsync(() -> {
                    try {
                        return pool.borrow(endpoint, later());
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                assertThat(RecordingHandoffEvents.awaitTrue(() -> pool.waiters(endpoint) == 1, Duration.ofSeconds(5)))
                        .as("the worker waits in the pool for the only slot").isTrue();
                long discarded = System.nanoTime();
                ControlConnectionPool.withoutDialling(() -> pool.invalidate(held)); // as the event loop does
                ControlConnection replacement = waiting.get(4, TimeUnit.SECONDS);
                assertThat(replacement).isNotSameAs(held);
                // Not after the 5 s borrow timeout: the slot was refilled for it at once.
                assertThat(Duration.ofNanos(System.nanoTime() - discarded)).isLessThan(Duration.ofSeconds(2));
                pool.release(replacement);
            } finally {
                pool.close();
            }
        }
    }

    @Test
    void aBorrowWaitsForABusyPoolNoLongerThanItsDeadline() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        try (AFUNIXServerSocketChannel backend = AFUNIXServerSocketChannel.open()) {
            backend.bind(AFUNIXSocketAddress.of(endpoint), 16);
            ControlConnectionPool pool = new ControlConnectionPool(new PoolSettings(1, 0, Duration.ofSeconds(5),
                    Duration.ofSeconds(1), Duration.ofMinutes(1)));
            try {
                ControlConnection held = pool.borrow(endpoint, later());
                long started = System.nanoTime();
                assertThatThrownBy(() -> pool.borrow(endpoint, started + Duration.ofMillis(150).toNanos()))
                        .isInstanceOf(NoSuchElementException.class);
                Duration waited = Duration.ofNanos(System.nanoTime() - started);
                assertThat(waited).as("waited for the only connection").isGreaterThanOrEqualTo(Duration.ofMillis(140));
                assertThat(waited).as("not the 5 s borrow timeout").isLessThan(Duration.ofSeconds(2));
                pool.release(held);
            } finally {
                pool.close();
            }
        }
    }

    @Test
    void aDialToAListenerThatDoesNotAcceptEndsAtTheDeadlineNotTheDialTimeout() throws Exception {
        Path endpoint = dir.resolve("frozen.sock");
        try (FrozenListener frozen = FrozenListener.at(endpoint)) {
            ControlConnectionPool pool = new ControlConnectionPool(new PoolSettings(1, 0, Duration.ofSeconds(5),
                    Duration.ofSeconds(5), Duration.ofMinutes(1)));
            try {
                long started = System.nanoTime();
                assertThatThrownBy(() -> pool.borrow(endpoint, started + Duration.ofMillis(150).toNanos()))
                        .isInstanceOf(SocketTimeoutException.class).hasMessageContaining("does not accept");
                assertThat(Duration.ofNanos(System.nanoTime() - started)).as("not the 5 s dial timeout")
                        .isLessThan(Duration.ofSeconds(2));
                assertThat(pool.stats(endpoint)).as("the failed dial holds no slot").isEqualTo(
                        new ControlConnectionPool.Stats(0, 0));
            } finally {
                pool.close();
            }
        }
    }

    @Test
    void aBorrowWhoseDeadlineHasPassedNeitherWaitsNorDials() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        try (AFUNIXServerSocketChannel backend = AFUNIXServerSocketChannel.open()) {
            backend.bind(AFUNIXSocketAddress.of(endpoint), 16);
            backend.configureBlocking(false);
            ControlConnectionPool pool = new ControlConnectionPool(new PoolSettings(1, 0, Duration.ofSeconds(5),
                    Duration.ofSeconds(5), Duration.ofMinutes(1)));
            try {
                assertThatThrownBy(() -> pool.borrow(endpoint, System.nanoTime() - 1))
                        .isInstanceOf(NoSuchElementException.class).hasMessageContaining("deadline passed");
                assertThat(backend.accept()).as("a connection the pool dialled").isNull();
            } finally {
                pool.close();
            }
        }
    }

    // A deadline no test reaches.
    private static long later() {
        return System.nanoTime() + Duration.ofMinutes(1).toNanos();
    }
}
