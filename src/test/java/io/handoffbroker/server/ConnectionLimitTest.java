package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.assertClosedByBroker;
import static io.handoffbroker.server.ListenerTestSupport.assertNegotiated;
import static io.handoffbroker.server.ListenerTestSupport.assertRefused;
import static io.handoffbroker.server.ListenerTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.proto.ErrorCode;
import io.handoffbroker.wire.proto.Frame;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** max-connections: beyond the limit new clients wait in the kernel backlog until a slot frees. */
class ConnectionLimitTest {

    private static final int LIMIT = 3;

    @TempDir
    Path dir;

    private BrokerFixture broker;
    private final List<RawClient> idle = new ArrayList<>();

    @BeforeEach
    void startBroker() throws IOException {
        broker = brokerAtTheLimit().start();
    }

    private BrokerFixture brokerAtTheLimit() {
        return new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .maxConnections(LIMIT)
                // Long enough that the idle connections are not timed out while the test holds them.
                .helloTimeout(Duration.ofSeconds(30));
    }

    @AfterEach
    void stopBroker() throws IOException {
        for (RawClient client : idle) {
            client.close();
        }
        broker.close();
    }

    private void holdIdleConnectionsUpToTheLimit() throws IOException, InterruptedException {
        for (int i = 0; i < LIMIT; i++) {
            idle.add(broker.connect());
        }
        await("the idle connections to be admitted", Duration.ofSeconds(5),
                () -> broker.server().openConnections() == LIMIT);
    }

    @Test
    void clientBeyondTheLimitIsAnsweredOnlyOnceAnotherConnectionCloses() throws Exception {
        holdIdleConnectionsUpToTheLimit();

        try (RawClient waiting = RawClient.connect(broker.socketPath(), Duration.ofMillis(300))) {
            waiting.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 4));
            assertThatThrownBy(waiting::readFrame).as("no answer while %d connections are open", LIMIT)
                    .isInstanceOf(SocketTimeoutException.class);
            assertThat(broker.server().openConnections()).as("the limit holds").isEqualTo(LIMIT);
            assertThat(broker.server().isAccepting()).as("accepting is paused at the limit").isFalse();
            assertThat(broker.server().isListening()).isTrue();

            idle.removeFirst().close();
            waiting.socket().setSoTimeout(5_000);
            Frame reply = waiting.readFrame();

            assertThat(reply.getRequestId()).isEqualTo(4);
            assertNegotiated(reply);
            assertClosedByBroker(waiting);
        }
        for (RawClient client : idle) {
            client.close();
        }
        idle.clear();
        await("open connections to return to 0", Duration.ofSeconds(5),
                () -> broker.server().openConnections() == 0);
        await("accepting to resume", Duration.ofSeconds(5), () -> broker.server().isAccepting());
        try (RawClient again = broker.connect()) {
            assertThat(again.hello(RawClient.hello("echo", "1.2.3")).hasNegotiated()).isTrue();
        }
    }

    @Test
    void aConnectionClosedWhileItsListenerThrowsStillLetsTheNextClientIn() throws Exception {
        broker.close();
        broker = brokerAtTheLimit().events(new BrokerEvents() {
            @Override
            public void connectionClosed(ClientConnection connection, String reason) {
                throw new IllegalStateException("a listener that fails");
            }
        }).start();
        holdIdleConnectionsUpToTheLimit();
        try (RawClient waiting = RawClient.connect(broker.socketPath(), Duration.ofMillis(300))) {
            waiting.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 6));
            assertThatThrownBy(waiting::readFrame).isInstanceOf(SocketTimeoutException.class);

            idle.removeFirst().close();
            waiting.socket().setSoTimeout(5_000);
            assertNegotiated(waiting.readFrame());
        }
    }

    @Test
    void clientWaitingInTheBacklogIsAnsweredShuttingDownWhenTheBrokerDrains() throws Exception {
        holdIdleConnectionsUpToTheLimit();
        try (RawClient waiting = RawClient.connect(broker.socketPath(), Duration.ofMillis(300))) {
            waiting.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 5));
            assertThatThrownBy(waiting::readFrame).isInstanceOf(SocketTimeoutException.class);
            waiting.socket().setSoTimeout(5_000);

            Thread drain = Thread.ofPlatform().name("test-drain")
                    .start(() -> broker.server().drain(Duration.ofMillis(500)));
            try {
                Frame reply = waiting.readFrame();

                assertThat(reply.getRequestId()).isEqualTo(5);
                assertThat(assertRefused(reply, ErrorCode.ERROR_SHUTTING_DOWN).getRetryAfterMs()).isPositive();
                assertClosedByBroker(waiting);
            } finally {
                drain.join(Duration.ofSeconds(10));
            }
            assertThat(drain.isAlive()).as("drain ends after its grace period").isFalse();
        }
        // The grace period is over: the idle connections, still owing their Hellos, were told why and closed.
        for (RawClient client : idle) {
            assertRefused(client.readFrame(), ErrorCode.ERROR_SHUTTING_DOWN);
            assertClosedByBroker(client);
        }
    }
}
