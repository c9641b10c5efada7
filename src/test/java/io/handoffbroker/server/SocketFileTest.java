package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.unix.ProcessUser;
import io.handoffbroker.unix.SocketFile;
import java.io.IOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.lib.junixsocket.common.NarMetadata;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.slf4j.LoggerFactory;

/** What the listener does with its socket file and the directory it lives in, at start and at close. */
class SocketFileTest {

    @TempDir
    Path dir;

    private BrokerFixture broker;
    private BrokerFixture successor;

    @AfterEach
    void stopBrokers() {
        if (broker != null) {
            broker.close();
        }
        if (successor != null) {
            successor.close();
        }
    }

    private BrokerFixture fixture(Path directory) {
        return new BrokerFixture(directory)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")));
    }

    private static Path privateSocketDirectory(BrokerFixture fixture) throws IOException {
        Path parent = fixture.socketPath().getParent();
        Files.createDirectories(parent);
        Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwx------"));
        return parent;
    }

    private static boolean isSocket(Path path) throws IOException {
        return ((Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000) == 0140000;
    }

    /** Accepts until a connection brings a byte, past the broker's liveness probes, which bring none. */
    private static int firstByteAccepted(AFUNIXServerSocket listener) throws IOException {
        listener.setSoTimeout(5_000);
        while (true) {
            try (Socket accepted = listener.accept()) {
                accepted.setSoTimeout(5_000);
                int first = accepted.getInputStream().read();
                if (first >= 0) {
                    return first;
                }
            }
        }
    }

    private static void assertAnswersAHello(Path socket) throws IOException {
        try (RawClient client = RawClient.connect(socket)) {
            assertThat(client.hello(RawClient.hello("echo", "1.2.3")).hasNegotiated()).isTrue();
        }
    }

    @Test
    void staleSocketFileNobodyAnswersOnIsReplacedAtStart() throws Exception {
        broker = fixture(dir);
        privateSocketDirectory(broker);
        Path socket = broker.socketPath();
        AFUNIXServerSocket dead = AFUNIXServerSocket.newInstance();
        dead.setDeleteOnClose(false);
        dead.bind(AFUNIXSocketAddress.of(socket));
        dead.close();
        assertThat(isSocket(socket)).as("precondition: a stale socket file is left at the path").isTrue();
        // Mark the stale file (inode numbers are reused at once, so they cannot tell the files apart).
        FileTime staleMark = FileTime.from(Instant.parse("2001-01-01T00:00:00Z"));
        Files.setLastModifiedTime(socket, staleMark);

        broker.start();

        assertThat(isSocket(socket)).isTrue();
        assertThat(Files.getLastModifiedTime(socket, LinkOption.NOFOLLOW_LINKS))
                .as("the stale file was replaced by a new socket").isNotEqualTo(staleMark);
        assertAnswersAHello(socket);
    }

    @Test
    void aBrokerOfAnotherUidLeavesALiveListenerItMayNotConnectToInPlace() throws Exception {
        // A broker not running as root, at the path of a live listener of another user whose socket
        // file only that user may connect to (0600, as under the same-uid policy): its probe is
        // refused as it is at a file left over, and it must not take the path.
        ForeignUidChild broker = ForeignUidChild.prepare(dir, ForeignUidClaim.class, SocketFile.class,
                AFUNIXSocketAddress.class, NarMetadata.class, LoggerFactory.class);
        Path socket = dir.resolve("broker").resolve("broker.sock");
        try (AFUNIXServerSocket live = AFUNIXServerSocket.newInstance()) {
            live.setDeleteOnClose(false); // left over once closed, below
            live.bind(AFUNIXSocketAddress.of(socket));
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-------"));

            assertThat(broker.run(socket.toString())).as("what the other uid's check said")
                    .startsWith("refused:" + socket + " is a socket file of uid " + ProcessUser.uid() + " (rw-------)")
                    .contains("may not connect to, so it cannot tell whether a listener answers there");

            try (RawClient stillThere = RawClient.connect(socket)) {
                stillThere.send(new byte[] {42});
                assertThat(firstByteAccepted(live)).as("the listener's socket file is untouched").isEqualTo(42);
            }
        }
        // The same file, nothing listening on it: still not that uid's to judge.
        assertThat(broker.run(socket.toString())).startsWith("refused:");
        Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
        assertThat(broker.run(socket.toString())).as("a file left over that it may connect to").isEqualTo("stale");
    }

    @Test
    void liveListenerAtThePathMakesStartFailAndIsLeftAlone() throws Exception {
        broker = fixture(dir);
        privateSocketDirectory(broker);
        Path socket = broker.socketPath();
        try (AFUNIXServerSocket live = AFUNIXServerSocket.newInstance()) {
            live.bind(AFUNIXSocketAddress.of(socket));

            assertThatThrownBy(broker::start).isInstanceOf(IOException.class)
                    .hasMessage("a live listener already answers at " + socket
                            + "; is another broker running? Stop it or choose another broker.socket-path");

            // Only a connection the other listener accepts shows that the path still leads to it: a file
            // put back in its place would most likely carry the very same inode number.
            try (RawClient stillThere = RawClient.connect(socket)) {
                stillThere.send(new byte[] {42});
                assertThat(firstByteAccepted(live)).as("the other listener's socket file is untouched")
                        .isEqualTo(42);
            }
        }
    }

    @Test
    void regularFileAtThePathMakesStartFailAndIsLeftAlone() throws Exception {
        broker = fixture(dir);
        privateSocketDirectory(broker);
        Path socket = broker.socketPath();
        Files.writeString(socket, "not a socket");

        assertThatThrownBy(broker::start).isInstanceOf(IOException.class)
                .hasMessageContaining(socket.toString())
                .hasMessageContaining("not a socket");

        assertThat(Files.readString(socket)).isEqualTo("not a socket");
    }

    @ParameterizedTest(name = "parent mode {0}")
    @ValueSource(strings = {"rwxrwx---", "rwx---rwx", "rwxrwxrwx"})
    void groupOrWorldWritableParentDirectoryMakesStartFail(String mode) throws Exception {
        broker = fixture(dir);
        Path parent = privateSocketDirectory(broker);
        Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString(mode));

        assertThatThrownBy(broker::start).isInstanceOf(IOException.class)
                .hasMessageContaining(parent.toString())
                .hasMessageContaining("writable");

        assertThat(Files.exists(broker.socketPath(), LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    @Test
    void aSharedStickyDirectoryAsTheSocketsOwnIsRefusedWithAPlaceBelowItAndNeverToBeMadePrivate() throws Exception {
        broker = fixture(dir);
        Path parent = privateSocketDirectory(broker);
        Files.setAttribute(parent, "unix:mode", 01777); // as /tmp is

        assertThatThrownBy(broker::start).isInstanceOf(IOException.class)
                .hasMessageStartingWith("socket directory " + parent + " is shared: others may create entries in it"
                        + " (rwxrwxrwt), so whenever this socket is not there another user can bind one of their own"
                        + " at its path")
                .hasMessageContaining("put the socket in a directory of its own below it (" + parent.resolve("<name>")
                        + "/, created 0700 when missing), or choose another broker.socket-path")
                .hasMessageNotContaining("make it 0700");

        assertThat(Files.getAttribute(parent, "unix:mode")).as("left as it was").isEqualTo(041777);
        assertThat(Files.exists(broker.socketPath(), LinkOption.NOFOLLOW_LINKS)).isFalse();
    }

    @Test
    void aSocketDirectoryAnotherUserMadeFirstMakesStartFailAndNothingIsBoundInIt() throws Exception {
        Assumptions.assumeTrue(ProcessUser.uid() == ProcessUser.ROOT,
                "giving a directory to another uid needs root; this JVM runs as uid " + ProcessUser.uid());
        // What another user can do in a shared temporary directory (1777) before a root broker starts:
        // make the broker's directory, 0755, which is not group- or world-writable but theirs.
        Path sharedTmp = Files.createDirectories(dir.resolve("tmp"));
        Files.setAttribute(sharedTmp, "unix:mode", 01777);
        broker = fixture(sharedTmp);
        Path parent = privateSocketDirectory(broker);
        Files.setPosixFilePermissions(parent, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setAttribute(parent, "unix:uid", 4242);

        assertThatThrownBy(broker::start).isInstanceOf(IOException.class)
                .hasMessageContaining("socket directory " + parent + " is owned by uid 4242, not by this process's uid 0")
                .hasMessageContaining("choose another broker.socket-path");

        assertThat(Files.exists(broker.socketPath(), LinkOption.NOFOLLOW_LINKS)).as("nothing bound there").isFalse();
    }

    @Test
    void missingParentDirectoriesAreCreatedPrivate() throws Exception {
        Path missing = dir.resolve("a").resolve("b");
        broker = fixture(missing);

        broker.start();

        for (Path created : new Path[] {dir.resolve("a"), missing, broker.socketPath().getParent()}) {
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(created, LinkOption.NOFOLLOW_LINKS)))
                    .as("mode of %s", created).isEqualTo("rwx------");
        }
        assertThat(isSocket(broker.socketPath())).isTrue();
        assertAnswersAHello(broker.socketPath());
    }

    @Test
    void closeRemovesTheSocketFile() throws Exception {
        broker = fixture(dir).start();
        Path socket = broker.socketPath();
        assertThat(isSocket(socket)).isTrue();

        broker.server().close();

        assertThat(Files.exists(socket, LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(broker.server().isListening()).isFalse();
    }

    @Test
    void closingABrokerLeavesTheSocketFileOfASuccessorAtTheSamePath() throws Exception {
        broker = fixture(dir).start();
        Path socket = broker.socketPath();
        // The path is freed (an operator or a cleanup job removed the file) and a successor binds it.
        Files.delete(socket);
        successor = fixture(dir).start();

        broker.server().close();

        assertThat(Files.exists(socket, LinkOption.NOFOLLOW_LINKS))
                .as("the successor's socket file survives the old broker's close").isTrue();
        // With the old broker's listener closed, an answer at the path can only come from the successor.
        assertThat(broker.server().isListening()).isFalse();
        assertAnswersAHello(socket);
    }

    @Test
    // The loop unlinks the socket file only after it has accepted the backlog, so a loop that is busy when the
    // drain starts delays the unlink until it is free; from then on a successor can bind, and the old broker's
    // remaining drain and close leave the successor's file alone.
    void successorThatBindsWhileTheOldBrokerDrainsKeepsItsSocketFile() throws Exception {
        CountDownLatch routing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        // A router that holds the loop, standing in for a loop busy with the backlog when the drain starts.
        broker = fixture(dir).router(replies -> (connection, decision) -> {
            routing.countDown();
            try {
                release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            new ReconnectRouter(replies).route(connection, decision);
        }).start();
        Path socket = broker.socketPath();
        Thread drain;
        try (RawClient client = broker.connect()) {
            client.send(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1));
            assertThat(routing.await(5, TimeUnit.SECONDS)).as("the loop is routing").isTrue();
            drain = Thread.ofPlatform().name("test-drain").start(() -> broker.server().drain(Duration.ofSeconds(5)));
            release.countDown();
            assertThat(client.readReply().hasNegotiated()).as("a Hello decided before the drain").isTrue();
            await("the drain to unlink the socket file", Duration.ofSeconds(5),
                    () -> !Files.exists(socket, LinkOption.NOFOLLOW_LINKS));

            successor = fixture(dir).start();
            drain.join(Duration.ofSeconds(10));
            assertThat(drain.isAlive()).isFalse();

            assertThat(Files.exists(socket, LinkOption.NOFOLLOW_LINKS))
                    .as("the successor's socket file survives the old broker's drain").isTrue();
        } finally {
            release.countDown();
        }
        // With the old broker's listener closed, an answer at the path can only come from the successor.
        assertThat(broker.server().isListening()).isFalse();
        assertAnswersAHello(socket);
    }
}
