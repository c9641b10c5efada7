package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

class BoundSocketFileTest {

    @TempDir
    Path dir;

    @Test
    void aSocketFileBoundAgainAtTheSamePathIsNotOursEvenWhenItGetsTheSameInodeNumber() throws Exception {
        Path path = dir.resolve("s.sock");
        BoundSocketFile first;
        try (AFUNIXServerSocket ours = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path), false)) {
            first = BoundSocketFile.identify(path);
            assertThat(first.isStillOurs()).isTrue();
        }
        Files.delete(path);
        try (AFUNIXServerSocket successor = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path), false)) {
            assertThat(first.isStillOurs()).isFalse();
            assertThat(first.removeIfStillOurs()).isFalse();
            assertThat(Files.exists(path, LinkOption.NOFOLLOW_LINKS)).isTrue();

            BoundSocketFile second = BoundSocketFile.identify(path);
            assertThat(second.removeIfStillOurs()).isTrue();
            assertThat(Files.exists(path, LinkOption.NOFOLLOW_LINKS)).isFalse();
        }
    }

    @Test
    void aFileThatIsGoneIsNotOurs() throws Exception {
        Path path = dir.resolve("gone.sock");
        try (AFUNIXServerSocket ours = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path), false)) {
            BoundSocketFile bound = BoundSocketFile.identify(path);
            Files.delete(path);
            assertThat(bound.isStillOurs()).isFalse();
            assertThat(bound.removeIfStillOurs()).isFalse();
        }
    }
}
