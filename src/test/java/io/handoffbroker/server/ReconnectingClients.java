package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.testing.RawClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Client threads that send a Hello on a fresh connection, one after another, until
 * closed. With {@link #slowLoop()} as the broker's events they keep the listen backlog
 * from ever running dry.
 */
final class ReconnectingClients implements AutoCloseable {

    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger answered = new AtomicInteger();
    private final List<Exception> failures = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new ArrayList<>();

    /**
     * @param stopOnFailure whether a client stops at its first failure (recorded), or keeps
     *     trying, as clients do while a broker drains: then a connect the broker refuses is
     *     expected, and only a connection it took and left unanswered is recorded
     */
    ReconnectingClients(Path brokerSocket, int clients, boolean stopOnFailure) {
        for (int i = 0; i < clients; i++) {
            threads.add(Thread.ofPlatform().start(() -> {
                while (running.get()) {
                    RawClient client;
                    try {
                        client = RawClient.connect(brokerSocket, Duration.ofSeconds(5));
                    } catch (Exception refused) {
                        if (stopOnFailure) {
                            failures.add(refused);
                            return;
                        }
                        Thread.onSpinWait();
                        continue;
                    }
                    try (client) {
                        client.hello(RawClient.hello("echo", "1.2.3"));
                        answered.incrementAndGet();
                    } catch (Exception unanswered) {
                        failures.add(unanswered);
                        if (stopOnFailure) {
                            return;
                        }
                    }
                }
            }));
        }
    }

    /** Broker events that hold the loop for a millisecond per answered Hello. */
    static BrokerEvents slowLoop() {
        return new BrokerEvents() {
            @Override
            public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
    }

    int answered() {
        return answered.get();
    }

    /** What went wrong; with {@code stopOnFailure} false, only connections left unanswered. */
    List<Exception> failures() {
        return failures;
    }

    /** Waits until the clients got going: at least {@code least} Hellos answered. */
    void awaitAnswered(int least) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (answered.get() < least && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(answered.get()).as("reconnecting clients got going").isGreaterThanOrEqualTo(least);
    }

    @Override
    public void close() throws InterruptedException {
        running.set(false);
        for (Thread thread : threads) {
            thread.join(5_000);
        }
    }
}
