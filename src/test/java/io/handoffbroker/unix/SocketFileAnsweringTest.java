package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.handoffbroker.testing.FrozenListener;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SocketFileAnsweringTest {

    @TempDir
    Path dir;

    @Test
    void aListenerThatStoppedAcceptingWithAFullBacklogStillCountsAsLiveAndTheProbeDoesNotWait() throws Exception {
        Path path = dir.resolve("frozen.sock");
        try (FrozenListener frozen = FrozenListener.at(path)) {
            assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
                assertThat(SocketFile.isAnswering(path)).isTrue();
                assertThatThrownBy(() -> SocketFile.claim(path, SocketFile.Party.BROKER)).hasMessageContaining("a live listener already answers");
            });
            assertThat(path).exists();
        }
    }
}
