package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.testing.RecordingHandoffEvents;
import io.handoffbroker.unix.BoundedConnect;
import io.handoffbroker.unix.Descriptors;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * How many reconnecting clients a full server lets wait: one served on the only slot, one
 * the accept thread holds for the next slot, and what the listen backlog queues (Linux
 * queues one more than the backlog); the next client's connect is not taken.
 */
class BackendBacklogTest {

    @TempDir
    Path dir;

    @Test
    void theBacklogSetBoundsTheClientsQueuedWhileEverySlotIsTaken() throws Exception {
        assertThat(clientsLetInWithOneSlot(server -> server.backlog(2))).isEqualTo(1 + 1 + 3);
    }

    @Test
    void theDefaultBacklogIsFifty() throws Exception {
        assertThat(clientsLetInWithOneSlot(UnaryOperator.identity())).isEqualTo(1 + 1 + 51);
    }

    @Test
    void aBacklogBelowOneOrSetAfterStartIsRefused() throws Exception {
        BackendServer server = new BackendServer(dir.resolve("pipe.sock"), new EchoHandler(), 1);
        assertThatThrownBy(() -> server.backlog(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("backlog must be at least 1, was 0");
        try (server) {
            server.start();
            assertThatThrownBy(() -> server.backlog(10)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("already started");
        }
    }

    /** Connects until a connect is not taken within a second; how many were. */
    private int clientsLetInWithOneSlot(UnaryOperator<BackendServer> configure) throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        ConnectionHandler holding = connection -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        Path pipe = dir.resolve("pipe.sock");
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(pipe);
        List<AFUNIXSocket> clients = new ArrayList<>();
        try (BackendServer server = configure.apply(new BackendServer(pipe, holding, 1)).start()) {
            try {
                clients.add(BoundedConnect.connect(address, Duration.ofSeconds(5)));
                assertThat(RecordingHandoffEvents.awaitTrue(() -> server.openConnections() == 1,
                        Duration.ofSeconds(5))).as("the first client holds the only slot").isTrue();
                while (clients.size() < 100) {
                    try {
                        clients.add(BoundedConnect.connect(address, Duration.ofSeconds(1)));
                    } catch (SocketTimeoutException full) {
                        return clients.size();
                    }
                }
                throw new AssertionError("100 clients let in with one slot and a bounded backlog");
            } finally {
                release.countDown();
                clients.forEach(Descriptors::closeQuietly);
            }
        }
    }
}
