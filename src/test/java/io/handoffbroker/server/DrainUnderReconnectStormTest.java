package io.handoffbroker.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A drain answers the backlog it found and then removes the socket file, even while
 * clients keep reconnecting as fast as they are refused: the loop must not stay in the
 * drain's accepts for as long as connections keep coming, and no client the listener let
 * in is reset by its close instead of answered.
 */
class DrainUnderReconnectStormTest {

    @TempDir
    Path dir;

    @Test
    void theSocketFileIsRemovedPromptlyWhileClientsKeepReconnecting() throws Exception {
        // Each answer holds the loop for a millisecond, so the reconnecting clients always
        // have connections waiting in the backlog; after the drain they keep trying.
        try (BrokerFixture broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .rateLimit(1_000_000, Duration.ofSeconds(1))
                .events(ReconnectingClients.slowLoop())
                .start();
                ReconnectingClients storm = new ReconnectingClients(broker.socketPath(), 8, false)) {
            storm.awaitAnswered(50);

            Thread drain = Thread.ofPlatform().start(() -> broker.server().drain(Duration.ofMillis(200)));
            drain.join(Duration.ofSeconds(5));
            assertThat(drain.isAlive()).as("the drain ended").isFalse();
            assertThat(Files.exists(broker.socketPath(), LinkOption.NOFOLLOW_LINKS))
                    .as("the socket file was removed").isFalse();
            storm.close();
            assertThat(storm.failures()).as("connections the broker took and left without an answer").isEmpty();
        }
    }
}
