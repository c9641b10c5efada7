package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * Whose directory a socket may be bound in: this process's user's or root's, never another
 * user's, who could rename the socket and put their own in its place. Giving a directory to
 * another user needs root, so the tests that do are skipped otherwise; the others ask the
 * check for a process of another uid than this JVM's instead.
 */
class SocketDirectoryOwnerTest {

    private static final long SOMEONE_ELSE = 4242;

    @TempDir
    Path dir;

    private static Path privateDirectory(Path path) throws IOException {
        Files.createDirectories(path);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rwxr-xr-x"));
        return path;
    }

    /** A symbolic link at {@code link} to {@code target}, owned by {@link #SOMEONE_ELSE} (needs root). */
    private static Path linkOfSomeoneElse(Path link, Path target) throws IOException {
        Files.createSymbolicLink(link, target);
        Files.setAttribute(link, "unix:uid", (int) SOMEONE_ELSE, LinkOption.NOFOLLOW_LINKS);
        return link;
    }

    private static long owner(Path path) throws IOException {
        return ((Number) Files.getAttribute(path, "unix:uid", LinkOption.NOFOLLOW_LINKS)).longValue();
    }

    private static void assumeRoot() {
        Assumptions.assumeTrue(ProcessUser.uid() == ProcessUser.ROOT,
                "giving a file to another uid needs root; this JVM runs as uid " + ProcessUser.uid());
    }

    @Test
    void aDirectoryOwnedByAnotherUserIsRefusedNamingItsOwnerAndWhatToDo() throws Exception {
        Path socketDir;
        long process;
        if (ProcessUser.uid() == ProcessUser.ROOT) {
            socketDir = privateDirectory(dir.resolve("handoff-broker-0"));
            Files.setAttribute(socketDir, "unix:uid", (int) SOMEONE_ELSE);
            process = ProcessUser.uid();
        } else {
            // Asked for a process of another user (not root), every directory on the way is checked
            // for that process too: below the temporary directory, which is this user's, the walk
            // would refuse it first as a directory above owned by another user. So the socket's
            // directory is the temporary directory itself, and what is above it must be root's.
            socketDir = dir;
            for (Path above = dir.getParent(); above != null; above = above.getParent()) {
                Assumptions.assumeTrue(owner(above) == ProcessUser.ROOT,
                        above + " is not root's; the temporary directory must be in one of root's");
            }
            process = ProcessUser.uid() + 1; // a process of another user than the directory's, not root
        }
        long directoryOwner = owner(socketDir);

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(socketDir.resolve("broker.sock"),
                SocketFile.Party.BROKER, process))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("socket directory " + socketDir + " is owned by uid " + directoryOwner)
                .hasMessageContaining("not by this process's uid " + process)
                .hasMessageContaining("chown")
                .hasMessageContaining("choose another broker.socket-path");
    }

    @Test
    void aDirectoryOfThisProcesssUserIsAccepted() throws Exception {
        Path socketDir = privateDirectory(dir.resolve("mine"));

        assertThatCode(() -> SocketFile.preparePrivateParent(socketDir.resolve("broker.sock"),
                SocketFile.Party.BROKER)).doesNotThrowAnyException();
    }

    @Test
    void aRootOwnedDirectoryNobodyElseCanWriteIsAcceptedForAProcessOfAnyUser() throws Exception {
        Path root = Path.of("/");
        Set<PosixFilePermission> mode = Files.getPosixFilePermissions(root);
        Assumptions.assumeTrue(owner(root) == ProcessUser.ROOT && !mode.contains(PosixFilePermission.GROUP_WRITE)
                && !mode.contains(PosixFilePermission.OTHERS_WRITE), "/ is not root's alone here");

        assertThatCode(() -> SocketFile.preparePrivateParent(root.resolve("broker.sock"), SocketFile.Party.BROKER,
                SOMEONE_ELSE)).doesNotThrowAnyException();
    }

    @Test
    void aSymbolicLinkOfThisProcesssUserToItsOwnDirectoryIsAccepted() throws Exception {
        Path target = privateDirectory(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("link"), target);

        assertThatCode(() -> SocketFile.preparePrivateParent(link.resolve("broker.sock"), SocketFile.Party.BROKER))
                .doesNotThrowAnyException();
    }

    @Test
    void aSymbolicLinkAnotherUserOwnsIsRefusedThoughItPointsAtThisProcesssDirectory() throws Exception {
        assumeRoot();
        Path target = privateDirectory(dir.resolve("real"));
        Path link = linkOfSomeoneElse(dir.resolve("handoff-broker-0"), target);
        assertThat(owner(target)).as("precondition: the directory pointed at is ours").isEqualTo(ProcessUser.uid());

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(link.resolve("broker.sock"),
                SocketFile.Party.BROKER))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("socket directory " + link + ": " + link + " on the way is a symbolic link owned"
                        + " by uid " + SOMEONE_ELSE)
                .hasMessageContaining("choose another broker.socket-path");
    }

    @Test
    void aSymbolicLinkOfThisProcesssUserToAnotherUsersDirectoryIsRefused() throws Exception {
        assumeRoot();
        Path target = privateDirectory(dir.resolve("theirs"));
        Files.setAttribute(target, "unix:uid", (int) SOMEONE_ELSE);
        Path link = Files.createSymbolicLink(dir.resolve("link"), target);

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(link.resolve("broker.sock"),
                SocketFile.Party.BROKER))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("socket directory " + link + " (" + target.toRealPath()
                        + " once its links are followed) is owned by uid " + SOMEONE_ELSE);
    }

    @Test
    void aLinkAnotherUserOwnsFurtherDownAChainOfLinksIsRefused() throws Exception {
        assumeRoot();
        Path real = privateDirectory(dir.resolve("real"));
        Path theirs = linkOfSomeoneElse(dir.resolve("theirs"), real);
        Path mine = Files.createSymbolicLink(dir.resolve("handoff-broker-0"), theirs);

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(mine.resolve("broker.sock"),
                SocketFile.Party.BROKER))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(theirs + " on the way is a symbolic link owned by uid " + SOMEONE_ELSE);
    }

    @Test
    void aLinkAnotherUserOwnsHigherUpThePathIsRefused() throws Exception {
        assumeRoot();
        Path real = privateDirectory(dir.resolve("real"));
        privateDirectory(real.resolve("sockets"));
        Path theirs = linkOfSomeoneElse(dir.resolve("theirs"), real);

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(theirs.resolve("sockets/broker.sock"),
                SocketFile.Party.BROKER))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(theirs + " on the way is a symbolic link owned by uid " + SOMEONE_ELSE);
    }

    @Test
    void aDirectoryAnotherUserOwnsHigherUpThePathIsRefused() throws Exception {
        assumeRoot();
        Path theirs = Files.createDirectory(dir.resolve("theirs"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        privateDirectory(theirs.resolve("sockets"));
        Files.setAttribute(theirs, "unix:uid", (int) SOMEONE_ELSE);

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(theirs.resolve("sockets/broker.sock"),
                SocketFile.Party.BROKER))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(theirs + " on the way is owned by uid " + SOMEONE_ELSE)
                .hasMessageContaining("choose another broker.socket-path");
    }

    @Test
    void nothingIsCreatedThroughALinkAnotherUserOwnsBeforeItIsRefused() throws Exception {
        assumeRoot();
        Path victim = privateDirectory(dir.resolve("victim"));
        Path theirs = linkOfSomeoneElse(dir.resolve("app"), victim);

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(theirs.resolve("run/x/broker.sock"),
                SocketFile.Party.BROKER)).isInstanceOf(IOException.class)
                .hasMessageContaining(theirs + " on the way is a symbolic link owned by uid " + SOMEONE_ELSE);
        assertThat(victim.resolve("run")).as("created where the link pointed").doesNotExist();
    }

    @Test
    void missingDirectoriesAreCreatedPrivatelyOneByOneUnderCheckedOnes() throws Exception {
        Path socket = privateDirectory(dir.resolve("base")).resolve("a/b/c/broker.sock");

        SocketFile.preparePrivateParent(socket, SocketFile.Party.BROKER);

        for (Path created : List.of(dir.resolve("base/a"), dir.resolve("base/a/b"), dir.resolve("base/a/b/c"))) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(created))).as(created.toString())
                    .isEqualTo("rwx------");
        }
    }

    @Test
    void aWorldWritableDirectoryHigherUpIsRefusedToRootUnlessItIsSticky() throws Exception {
        assumeRoot(); // the temporary directories on the way must be root's
        Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setAttribute(shared, "unix:mode", 0777); // as a Kubernetes emptyDir
        Path socket = privateDirectory(shared.resolve("sockets")).resolve("broker.sock");

        // Whoever can write it can swap the checked directory for one of theirs before the bind,
        // and the socket's chmod would follow their link: as root, to any file.
        assertThatThrownBy(() -> SocketFile.preparePrivateParent(socket, SocketFile.Party.BROKER, ProcessUser.ROOT))
                .isInstanceOf(IOException.class)
                .hasMessageContaining(shared + " on the way is group- or world-writable without the sticky bit")
                .hasMessageContaining("make it 1777 (sticky) or 0755, run as another user")
                .hasMessageContaining("choose another broker.socket-path");
        Files.setAttribute(shared, "unix:mode", 0775); // a group's
        assertThatThrownBy(() -> SocketFile.preparePrivateParent(socket, SocketFile.Party.BROKER, ProcessUser.ROOT))
                .isInstanceOf(IOException.class).hasMessageContaining("group- or world-writable");

        Files.setAttribute(shared, "unix:mode", 01777); // as /tmp: only an entry's owner may rename it
        assertThatCode(() -> SocketFile.preparePrivateParent(socket, SocketFile.Party.BROKER, ProcessUser.ROOT))
                .doesNotThrowAnyException();
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void aWorldWritableDirectoryHigherUpIsWarnedOfToAnotherUser(CapturedOutput output) throws Exception {
        Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setAttribute(shared, "unix:mode", 0777);
        Path socket = privateDirectory(shared.resolve("sockets")).resolve("broker.sock");
        long notRoot;
        if (ProcessUser.uid() != ProcessUser.ROOT) {
            notRoot = ProcessUser.uid(); // as the broker's user in a container: the directories are its own
        } else {
            notRoot = SOMEONE_ELSE; // the directories are root's or this process's: root's may hold it
            Assumptions.assumeTrue(owner(socket.getParent()) == ProcessUser.ROOT,
                    "the directories must be root's for a pretend user to be allowed them");
        }

        assertThatCode(() -> SocketFile.preparePrivateParent(socket, SocketFile.Party.BROKER, notRoot))
                .doesNotThrowAnyException();
        assertThat(output.getAll()).contains(shared + " on the way is group- or world-writable without the sticky bit");
    }
    @Test
    void aDotDotBackIntoASharedDirectoryIsCheckedAsThatDirectory() throws IOException {
        Path shared = Files.createDirectories(dir.resolve("tmp"));
        Files.setAttribute(shared, "unix:mode", 01777); // as /tmp is
        privateDirectory(shared.resolve("mine"));
        Path socket = Path.of(shared + "/mine/../broker.sock");

        assertThatThrownBy(() -> SocketFile.preparePrivateParent(socket, SocketFile.Party.BROKER))
                .isInstanceOf(IOException.class).hasMessageContaining(" is shared: others may create entries in it");
        assertThat(Files.getAttribute(shared, "unix:mode")).as("left as it was").isEqualTo(041777);
    }
}
