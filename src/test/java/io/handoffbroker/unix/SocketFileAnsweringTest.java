package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.handoffbroker.testing.FrozenListener;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

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

    @Test
    void aLiveListenerThisUserMayNotConnectToIsLeftInPlaceAndTheClaimRefused() throws Exception {
        Assumptions.assumeTrue(ProcessUser.uid() != ProcessUser.ROOT,
                "root may connect to any socket file; this JVM runs as uid " + ProcessUser.uid());
        // As another user's socket under the same-uid policy (0600) is to this one: connect(2) needs
        // write permission, so the probe fails as it does at a file left over.
        Path path = dir.resolve("unwritable.sock");
        try (FrozenListener live = FrozenListener.at(path)) {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("r--------"));
            assertThat(SocketFile.isAnswering(path)).as("precondition: the probe does not get through").isFalse();

            assertThatThrownBy(() -> SocketFile.claim(path, SocketFile.Party.BROKER))
                    .hasMessageContaining(path + " is a socket file of uid " + ProcessUser.uid() + " (r--------)")
                    .hasMessageContaining("may not connect to, so it cannot tell whether a listener answers there")
                    .hasMessageContaining("choose another broker.socket-path");
            assertThat(path).as("left in place").exists();
        }
    }

    @Test
    void aStaleSocketFileRemovedWhileItIsCheckedIsNotTakenForOneThisUserMayNotConnectTo() throws Exception {
        // As a broker that stops leaves its file: its listener closed, the file unlinked a moment
        // later, here at a different moment of the check each time.
        Path path = dir.resolve("stale.sock");
        for (int i = 0; i < 2_000; i++) {
            AFUNIXServerSocket dead = AFUNIXServerSocket.newInstance();
            dead.setDeleteOnClose(false);
            dead.bind(AFUNIXSocketAddress.of(path));
            dead.close();
            long removeAfterNanos = (i % 200) * 1_000L;
            Thread owner = Thread.ofPlatform().start(() -> {
                long until = System.nanoTime() + removeAfterNanos;
                while (System.nanoTime() - until < 0) {
                    Thread.onSpinWait();
                }
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            try {
                assertThatCode(() -> SocketFile.checkClaimable(path, SocketFile.Party.BROKER)).as("attempt %d", i)
                        .doesNotThrowAnyException();
            } finally {
                owner.join();
            }
        }
    }
}
