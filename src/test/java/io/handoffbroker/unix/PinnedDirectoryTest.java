package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A socket is bound and made private in the directory that was checked, however the path to it
 * is changed afterwards: someone who can write a directory above it could otherwise swap the
 * checked directory for one of theirs, and have the socket's chmod follow a link of theirs.
 */
class PinnedDirectoryTest {

    @TempDir
    Path dir;

    @Test
    void aSocketIsBoundAndMadePrivateInThePinnedDirectoryAfterItsPathWasSwapped() throws Exception {
        // A directory above the socket's that others can write, without the sticky bit: warned of.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path parent = dir.resolve("run");
        Path socket = parent.resolve("s.sock");
        Path theirs = Files.createDirectory(dir.resolve("theirs"));
        Path victim = Files.writeString(dir.resolve("victim"), "not a socket's");
        Files.setPosixFilePermissions(victim, PosixFilePermissions.fromString("rw-r--r--"));
        Files.createSymbolicLink(theirs.resolve("s.sock"), victim);

        try (SocketFile.PinnedDirectory pinned = SocketFile.pinPrivateParent(socket, SocketFile.Party.BROKER)) {
            // After the check: the checked directory moved away, and the path leads to theirs.
            Path moved = Files.move(parent, dir.resolve("moved"));
            Files.createSymbolicLink(parent, theirs);
            Path through = pinned.resolve(socket);

            try (AFUNIXServerSocket listener = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(through), false)) {
                Files.setPosixFilePermissions(through, PosixFilePermissions.fromString("rw-------"));

                assertThat(Files.getAttribute(moved.resolve("s.sock"), "unix:mode", LinkOption.NOFOLLOW_LINKS))
                        .as("bound in the checked directory, made private there").isEqualTo(0140600);
                assertThat(Files.getPosixFilePermissions(victim)).as("the file their link leads to")
                        .isEqualTo(PosixFilePermissions.fromString("rw-r--r--"));
                try (AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(moved.resolve("s.sock")))) {
                    assertThat(client.isConnected()).isTrue();
                }
            }
        }
    }

    @Test
    void aDirectoryNobodyElseCanSwapIsNotHeldAndTheSocketKeepsItsOwnName() throws Exception {
        Path socket = dir.resolve("run").resolve("s.sock");
        int before = openDescriptors();
        try (SocketFile.PinnedDirectory pinned = SocketFile.pinPrivateParent(socket, SocketFile.Party.BROKER)) {
            assertThat(pinned.resolve(socket)).isEqualTo(socket);
            assertThat(openDescriptors()).isEqualTo(before);
        }
    }

    @Test
    void theDescriptorHeldIsReleasedOnClose() throws Exception {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        int before = openDescriptors();
        SocketFile.PinnedDirectory pinned = SocketFile.pinPrivateParent(dir.resolve("run").resolve("s.sock"),
                SocketFile.Party.BROKER);
        assertThat(openDescriptors()).isEqualTo(before + 1);
        pinned.close();
        pinned.close();
        assertThat(openDescriptors()).isEqualTo(before);
    }

    private static int openDescriptors() throws Exception {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return (int) fds.count() - 1; // the listing's own
        }
    }
}
