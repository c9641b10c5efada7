package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocketChannel;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.AFUNIXSocketChannel;

class SocketFileAnsweringTest {

    @TempDir
    Path dir;

    @Test
    void aListenerThatStoppedAcceptingWithAFullBacklogStillCountsAsLiveAndTheProbeDoesNotWait() throws Exception {
        Path path = dir.resolve("frozen.sock");
        List<AFUNIXSocketChannel> backlog = new ArrayList<>();
        try (AFUNIXServerSocketChannel frozen = AFUNIXServerSocketChannel.open()) {
            frozen.bind(AFUNIXSocketAddress.of(path), 1);
            // Fill the backlog: from here on, a blocking connect to the path would wait for ever.
            while (backlog.size() < 64) {
                AFUNIXSocketChannel client = AFUNIXSocketChannel.open();
                client.configureBlocking(false);
                backlog.add(client);
                if (!client.connect(AFUNIXSocketAddress.of(path))) {
                    break;
                }
            }
            assertThat(backlog.getLast().isConnectionPending()).as("backlog full").isTrue();

            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                assertThat(SocketFile.isAnswering(path)).isTrue();
                assertThatThrownBy(() -> SocketFile.claim(path)).hasMessageContaining("a live listener already answers");
            });
            assertThat(path).exists();
        } finally {
            for (AFUNIXSocketChannel client : backlog) {
                client.close();
            }
        }
    }
}
