package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.client.Route;
import io.handoffbroker.client.ServiceConnection;
import io.handoffbroker.testing.HandoffFixture;
import io.handoffbroker.testing.RecordingHandoffEvents;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.jspecify.annotations.Nullable;

/**
 * A handoff still queued for a worker when the broker stops was never offered: the
 * broker owns its client, so the client is told at once (a refused relay) and
 * reconnects, instead of waiting out its relay wait. A handoff still running on a
 * worker, which the stop interrupts, still relays its verdict (here the backend's
 * refusal): an interrupted thread's write would close the client's connection
 * instead. Whether the stop waited for the workers in vain or was interrupted while
 * it waited.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class QueuedHandoffsAtShutdownTest {

    private static final Duration CLIENT_WAIT = Duration.ofSeconds(10);
    // Far beyond the test's waits: a client that fell back only when its wait ran out would fail it.
    private static final Duration LONG_RELAY_WAIT = Duration.ofSeconds(60);
    // Longer than the test waits for the queued client: a stop that waited for it would fail the test.
    private static final Duration LONG_ACK_DEADLINE = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @ParameterizedTest(name = "stop {0}")
    @ValueSource(strings = {"waits for the workers", "is interrupted", "began an ACK deadline ago"})
    void aQueuedHandoffIsRefusedToItsClientWhenTheBrokerStops(String stop) throws Exception {
        // The first handoff, on the only worker (nothing is pooled yet, so it dials there), stays
        // there until the stop interrupts it, and then finds the backend's refusal on time.
        FirstWorkerHeld worker = new FirstWorkerHeld();
        // A thread per client: each blocks in its connect until the broker stops.
        try (ExecutorService clients = Executors.newThreadPerTaskExecutor(Thread.ofPlatform().daemon().factory());
                ScriptedBackends backends = ScriptedBackends.start(dir, 8);
                // A short deadline: closing waits for the workers for as long as it, and a second more. Or,
                // for a stop whose drain began a deadline ago, a long one, counted from the drain's start.
                HandoffFixture broker = new HandoffFixture(dir).workers(1).delivery(worker.delivery())
                        .ackDeadline(stop.startsWith("began") ? LONG_ACK_DEADLINE : Duration.ofMillis(300))
                        .service(backends.service()).start()) {
            backends.scripted().then(ScriptedHandoffBackend.refuse("no room for it"));
            CompletableFuture<ServiceConnection> holding = CompletableFuture.supplyAsync(
                    () -> connect(broker, LONG_RELAY_WAIT), clients);
            CompletableFuture<ServiceConnection> queued = null;
            try {
                assertThat(worker.awaitHeld(Duration.ofSeconds(10))).as("the first handoff holds the worker").isTrue();

                // Its control connection is busy, so the next handoff needs a dial, and waits for the worker.
                queued = CompletableFuture.supplyAsync(
                        () -> connect(broker, LONG_RELAY_WAIT), clients);
                assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.orchestrator().queuedDeliveries() == 1,
                        CLIENT_WAIT)).as("a delivery queued for the worker").isTrue();

                Thread stopping = Thread.ofPlatform().start(() -> {
                    if (stop.equals("is interrupted")) {
                        Thread.currentThread().interrupt();
                    }
                    if (stop.startsWith("began")) {
                        // The workers' wait overlaps the drain's: it is over before it starts.
                        broker.orchestrator().close(System.nanoTime() - LONG_ACK_DEADLINE.toNanos()
                                - TimeUnit.SECONDS.toNanos(1));
                    }
                    broker.close(); // as the application stops: the listener first, then the orchestrator
                });
                try (ServiceConnection told = queued.get(CLIENT_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    assertThat(told.route()).isEqualTo(Route.RECONNECTED);
                    assertThat(told.fallbackReason())
                            .isEqualTo("the broker stopped before the descriptor could be sent");
                    assertThat(HandoffFixture.echo(told.socket(), "after the stop")).isEqualTo("after the stop");
                    RecordingHandoffEvents.Event fallback = broker.events().awaitEvent(told.connectionId(), "fallback",
                            CLIENT_WAIT);
                    assertThat(fallback).isNotNull();
                    assertThat(fallback.value()).isEqualTo(FallbackReason.FD_PRESSURE);
                } finally {
                    worker.release();
                    assertThat(stopping.join(CLIENT_WAIT)).as("the stop returned").isTrue();
                }
                assertThat(broker.orchestrator().queuedDeliveries()).isZero();
                try (ServiceConnection refused = holding.get(CLIENT_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    assertThat(refused.route()).isEqualTo(Route.RECONNECTED);
                    assertThat(refused.fallbackReason()).as("the refusal relayed by the interrupted worker")
                            .isEqualTo("no room for it");
                    assertThat(HandoffFixture.echo(refused.socket(), "interrupted worker"))
                            .isEqualTo("interrupted worker");
                }
                assertThat(RecordingHandoffEvents.awaitTrue(() -> broker.orchestrator().pending().size() == 0,
                        CLIENT_WAIT)).as("no token left pending").isTrue();
            } finally {
                // A failed assertion must not leave the clients' connections open.
                closeWhenDone(holding);
                closeWhenDone(queued);
            }
        }
    }

    private static void closeWhenDone(@Nullable CompletableFuture<ServiceConnection> client) {
        if (client != null) {
            client.thenAccept(connection -> {
                try {
                    connection.close();
                } catch (IOException ignored) {
                    // Closing is all that was asked.
                }
            });
        }
    }

    private static ServiceConnection connect(HandoffFixture broker, Duration relayWait) {
        try {
            return broker.client(relayWait).connect(HandoffFixture.SERVICE, HandoffFixture.VERSION);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
