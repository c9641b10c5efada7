package io.handoffbroker.server;

import static io.handoffbroker.server.ListenerTestSupport.await;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import io.handoffbroker.negotiation.PeerIdentity;
import io.handoffbroker.negotiation.ServiceBackend;
import io.handoffbroker.testing.BrokerFixture;
import io.handoffbroker.testing.RawClient;
import io.handoffbroker.wire.FrameIO;
import io.handoffbroker.unix.ProcessUser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

/**
 * The peer policy decides from the kernel-verified uid of each connection; a peer
 * it does not admit is closed without a single reply byte. The foreign-uid cases
 * run a real client in a child JVM as uid 65534 ({@code nobody}).
 */
class PeerPolicyTest {

    private static final long FOREIGN_UID = ForeignUidChild.UID;

    @TempDir
    Path dir;

    private BrokerFixture broker;
    private final RecordingEvents events = new RecordingEvents();

    /** Records the peers the listener rejected. */
    static final class RecordingEvents implements BrokerEvents {
        final List<PeerIdentity> rejected = new CopyOnWriteArrayList<>();

        @Override
        public void peerRejected(PeerIdentity peer) {
            rejected.add(peer);
        }
    }

    @AfterEach
    void stopBroker() {
        if (broker != null) {
            broker.close();
        }
    }

    private BrokerFixture start(PeerPolicy policy) throws IOException {
        broker = new BrokerFixture(dir)
                .service(ServiceBackend.reconnectOnly("echo", "1.2.3", dir.resolve("echo.sock")))
                .peerPolicy(policy)
                .events(events)
                .start();
        return broker;
    }

    private static String mode(Path path) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS));
    }

    // --- this process ----------------------------------------------------------------------------

    @Test
    void sameUidPolicyAdmitsThisProcessAndKeepsTheSocketFilePrivate() throws Exception {
        start(new PeerPolicy.SameUid(ProcessUser.uid()));

        assertThat(mode(broker.socketPath())).isEqualTo("rw-------");
        try (RawClient client = broker.connect()) {
            assertThat(client.hello(RawClient.hello("echo", "1.2.3")).hasNegotiated()).isTrue();
        }
        assertThat(events.rejected).isEmpty();
    }

    @Test
    void allowedUidsWithoutThisProcessUidClosesItWithoutAnyReplyBytes() throws Exception {
        long ownUid = ProcessUser.uid();
        Assumptions.assumeTrue(ownUid != 12345, "this process must not run as uid 12345");
        start(new PeerPolicy.AllowedUids(Set.of(12345L)));
        assertThat(mode(broker.socketPath())).as("a shared policy opens the socket file").isEqualTo("rw-rw-rw-");

        try (UnixChannelClient client = UnixChannelClient.connect(broker.socketPath())) {
            // The broker may already have closed: the Hello is irrelevant to a rejected peer.
            client.send(FrameIO.encode(RawClient.helloFrame(RawClient.hello("echo", "1.2.3"), 1)),
                    Duration.ofSeconds(2));

            UnixChannelClient.Received received = client.readUntilClosed(Duration.ofSeconds(5));

            assertThat(received.closed()).as("the broker closed the rejected peer").isTrue();
            assertThat(received.bytes()).as("reply bytes to a rejected peer").isEmpty();
        }
        await("the rejection to be reported", Duration.ofSeconds(5), () -> !events.rejected.isEmpty());
        assertThat(events.rejected).singleElement().satisfies(peer -> {
            assertThat(peer.uid()).isEqualTo(ownUid);
            assertThat(peer.pid()).isEqualTo(ProcessHandle.current().pid());
        });
        assertThat(broker.server().openConnections()).isZero();
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void aPeerKeptOutOverAndOverIsCountedEachTimeAndWarnedOfOnce(CapturedOutput output) throws Exception {
        Assumptions.assumeTrue(ProcessUser.uid() != 12345, "this process must not run as uid 12345");
        start(new PeerPolicy.AllowedUids(Set.of(12345L)));

        for (int i = 0; i < 50; i++) {
            try (UnixChannelClient client = UnixChannelClient.connect(broker.socketPath())) {
                assertThat(client.readUntilClosed(Duration.ofSeconds(5)).closed()).isTrue();
            }
        }

        await("every rejection reported", Duration.ofSeconds(5), () -> events.rejected.size() == 50);
        // The process kept out does not decide how much the broker logs.
        assertThat(output.getOut().lines().filter(line -> line.contains("rejected peer pid="))).as(output.getOut())
                .singleElement().asString().contains("uid=" + ProcessUser.uid())
                .contains("1 rejected since the last such warning");
    }

    // --- a real second uid -----------------------------------------------------------------------

    @Test
    void sameUidPolicyClosesAClientOfAnotherUidWithoutReplyEvenWhenTheSocketFileLetsItIn() throws Exception {
        ForeignUidChild child = ForeignUidChild.prepare(dir, ForeignUidClient.class, FrameIO.class, Message.class);
        start(new PeerPolicy.SameUid(ProcessUser.uid()));
        // Loosen the file mode so the kernel lets the child connect: the policy alone must keep it out.
        Files.setPosixFilePermissions(broker.socketPath(), PosixFilePermissions.fromString("rw-rw-rw-"));

        String result = child.run(broker.socketPath().toString());

        assertThat(result).isEqualTo("closed");
        await("the rejection to be reported", Duration.ofSeconds(5), () -> !events.rejected.isEmpty());
        assertThat(events.rejected).singleElement().extracting(PeerIdentity::uid).isEqualTo(FOREIGN_UID);
    }

    @Test
    void sameUidPolicySocketFileModeKeepsAClientOfAnotherUidFromConnecting() throws Exception {
        ForeignUidChild child = ForeignUidChild.prepare(dir, ForeignUidClient.class, FrameIO.class, Message.class);
        start(new PeerPolicy.SameUid(ProcessUser.uid()));

        String result = child.run(broker.socketPath().toString());

        assertThat(result).startsWith("connect-failed:");
        assertThat(events.rejected).isEmpty();
    }

    @Test
    void allowedUidsNamingTheClientsUidAdmitsAClientOfAnotherUid() throws Exception {
        ForeignUidChild child = ForeignUidChild.prepare(dir, ForeignUidClient.class, FrameIO.class, Message.class);
        start(new PeerPolicy.AllowedUids(Set.of(FOREIGN_UID)));
        assertThat(mode(broker.socketPath())).isEqualTo("rw-rw-rw-");

        String result = child.run(broker.socketPath().toString());

        assertThat(result).as("anything but closed; a valid Hello is negotiated").isEqualTo("negotiated");
        assertThat(events.rejected).isEmpty();
    }

}
