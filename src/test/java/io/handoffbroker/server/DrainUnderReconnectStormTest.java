package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.HelloDecision;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A drain answers the backlog it found and then removes the socket file, even while
 * clients keep reconnecting as fast as they are refused: the loop must not stay in the
 * drain's accepts for as long as connections keep coming.
 */
class DrainUnderReconnectStormTest {

    @TempDir
    Path dir;

    @Test
    void theSocketFileIsRemovedPromptlyWhileClientsKeepReconnecting() throws Exception {
        // Each answer holds the loop for a millisecond, so the reconnecting clients always
        // have connections waiting in the backlog.
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
                .rateLimit(1_000_000, Duration.ofSeconds(1))
                .events(slowLoop)
                .start()) {
            AtomicBoolean storming = new AtomicBoolean(true);
            AtomicInteger answered = new AtomicInteger();
            List<Thread> clients = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                clients.add(Thread.ofPlatform().start(() -> {
                    while (storming.get()) {
                        try (RawClient client = RawClient.connect(broker.socketPath(), Duration.ofSeconds(2))) {
                            client.hello(RawClient.hello("echo", "1.2.3"));
                            answered.incrementAndGet();
                        } catch (Exception refusedOrGone) {
                            // After the drain the socket file is gone: keep trying until told to stop.
                        }
                    }
                }));
            }
            try {
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (answered.get() < 50 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertThat(answered.get()).as("clients got going").isGreaterThanOrEqualTo(50);

                Thread drain = Thread.ofPlatform().start(() -> broker.server().drain(Duration.ofMillis(200)));
                drain.join(Duration.ofSeconds(5));
                assertThat(drain.isAlive()).as("the drain ended").isFalse();
                assertThat(Files.exists(broker.socketPath(), LinkOption.NOFOLLOW_LINKS))
                        .as("the socket file was removed").isFalse();
            } finally {
                storming.set(false);
                for (Thread client : clients) {
                    client.join(5_000);
                }
            }
        }
    }
}
