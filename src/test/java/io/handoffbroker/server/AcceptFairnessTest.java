package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.HelloReply;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client whose Hello arrives after its accept is answered even while the listener
 * never runs dry: the loop accepts a bounded burst, then serves the connections that
 * wait for their Hello, instead of accepting for as long as connections keep coming.
 */
class AcceptFairnessTest {

    private static final Duration HELLO_TIMEOUT = Duration.ofMillis(400);

    @TempDir
    Path dir;

    @Test
    void aHelloThatArrivesAfterItsAcceptIsAnsweredWhileOtherClientsKeepTheBacklogFull() throws Exception {
        // Each answered Hello holds the loop for a millisecond, so the hammering clients, each
        // reconnecting at once, always have connections waiting in the backlog.
        BrokerEvents slowLoop = new BrokerEvents() {
            @Override
            public void helloAnswered(ClientConnection connection, HelloDecision decision, long durationNanos) {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .helloTimeout(HELLO_TIMEOUT)
                .rateLimit(1_000_000, Duration.ofSeconds(1))
                .events(slowLoop)
                .start()) {
            AtomicBoolean hammering = new AtomicBoolean(true);
            AtomicInteger hammered = new AtomicInteger();
            List<Exception> hammerFailures = new CopyOnWriteArrayList<>();
            List<Thread> hammers = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                hammers.add(Thread.ofPlatform().start(() -> {
                    while (hammering.get()) {
                        try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                            client.hello(RawClient.hello("echo", "1.2.3"));
                            hammered.incrementAndGet();
                        } catch (Exception e) {
                            hammerFailures.add(e);
                            return;
                        }
                    }
                }));
            }
            try {
                awaitAtLeast(hammered, 50);
                int beforeLateClients = hammered.get();
                for (int i = 0; i < 5; i++) {
                    try (RawClient late = RawClient.connect(broker.socketPath(), Duration.ofSeconds(5))) {
                        Thread.sleep(30); // accepted meanwhile, with nothing to read yet
                        HelloReply reply = late.hello(RawClient.hello("echo", "1.2.3"));
                        assertThat(reply.hasNegotiated())
                                .as("late Hello %d answered, not timed out (%s)", i, reply).isTrue();
                    }
                }
                // The late clients were answered under load, not after the hammering stopped.
                assertThat(hammerFailures).isEmpty();
                assertThat(hammered.get() - beforeLateClients).isGreaterThan(50);
            } finally {
                hammering.set(false);
                for (Thread hammer : hammers) {
                    hammer.join(5_000);
                }
            }
        }
    }

    private static void awaitAtLeast(AtomicInteger count, int least) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (count.get() < least && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(count.get()).as("hammering clients got going").isGreaterThanOrEqualTo(least);
    }
}
