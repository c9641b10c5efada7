package io.handoffbroker.backend;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.demo.EchoHandler;
import io.handoffbroker.unix.ProcessUser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backend SDK keeps its endpoints' directories to the broker's rule for its own socket:
 * whoever can change the directory could put a listener in the backend's place. The rule's
 * cases are SocketDirectoryOwnerTest's; this shows both endpoints are held to it.
 */
class BackendEndpointDirectoryTest {

    private static final int SOMEONE_ELSE = 4242;

    @TempDir
    Path dir;

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void missingDirectoriesOfBothEndpointsAreCreatedForThisUserOnly() throws Exception {
        Path pipe = dir.resolve("srv").resolve("app").resolve("pipe.sock");
        Path handoff = dir.resolve("handoff").resolve("handoff.sock");

        try (BackendServer server = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4).start()) {
            assertThat(mode(dir.resolve("srv"))).isEqualTo("rwx------");
            assertThat(mode(pipe.getParent())).isEqualTo("rwx------");
            assertThat(mode(handoff.getParent())).isEqualTo("rwx------");
            assertThat(Files.exists(pipe, LinkOption.NOFOLLOW_LINKS)).isTrue();
            assertThat(Files.exists(handoff, LinkOption.NOFOLLOW_LINKS)).isTrue();
        }
    }

    @Test
    void aGroupWritableDirectoryIsRefusedAndNothingIsBound() throws Exception {
        Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwx---"));
        Path pipe = shared.resolve("pipe.sock");
        BackendServer server = new BackendServer(pipe, new EchoHandler(), 4);

        assertThatThrownBy(server::start).isInstanceOf(IOException.class)
                .hasMessageContaining("socket directory " + shared + " is group- or world-writable")
                .hasMessageContaining("choose another backend_pipe");
        assertThat(Files.exists(pipe, LinkOption.NOFOLLOW_LINKS)).as("bound in a directory others can write")
                .isFalse();
        assertThatThrownBy(server::start).as("a failed start closes the server")
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aHandoffEndpointDirectoryOwnedByAnotherUserIsRefusedAndTheBackendPipeReleased() throws Exception {
        Assumptions.assumeTrue(ProcessUser.uid() == ProcessUser.ROOT,
                "giving a directory to another uid needs root; this JVM runs as uid " + ProcessUser.uid());
        Path pipe = dir.resolve("pipe.sock");
        Path theirs = Files.createDirectory(dir.resolve("theirs"));
        Files.setPosixFilePermissions(theirs, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setAttribute(theirs, "unix:uid", SOMEONE_ELSE);
        Path handoff = theirs.resolve("handoff.sock");
        BackendServer server = new BackendServer(pipe, Optional.of(handoff), new EchoHandler(), 4);

        assertThatThrownBy(server::start).isInstanceOf(IOException.class)
                .hasMessageContaining("socket directory " + theirs + " is owned by uid " + SOMEONE_ELSE)
                .hasMessageContaining("choose another handoff endpoint");
        assertThat(Files.exists(handoff, LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(Files.exists(pipe, LinkOption.NOFOLLOW_LINKS)).as("the pipe bound first is removed again")
                .isFalse();
    }
}
