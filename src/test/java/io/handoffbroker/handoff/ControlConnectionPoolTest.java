package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.testing.RecordingHandoffEvents;
import java.nio.file.Path;
import java.time.Duration;
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
                ControlConnection held = pool.borrow(endpoint);
                CompletableFuture<ControlConnection> waiting = CompletableFuture.supplyAsync(() -> {
                    try {
                        return pool.borrow(endpoint);
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
}
