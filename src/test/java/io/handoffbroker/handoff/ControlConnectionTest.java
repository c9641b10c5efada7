package io.handoffbroker.handoff;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.handoffbroker.unix.Descriptors;
import io.handoffbroker.unix.PeerUidNotAllowedException;
import io.handoffbroker.unix.ProcessUser;
import io.handoffbroker.wire.HandoffToken;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** One control connection against a peer that plays the backend, on real sockets. */
@Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ControlConnectionTest {

    private static final byte TOKEN_BYTE = 0x5A;

    @TempDir
    Path dir;

    @Test
    void aDescriptorWhoseFirstSendFindsTheBufferFullStillTravelsWithItsToken() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(endpoint));
                ControlConnection control = ControlConnection.dial(endpoint, Duration.ofSeconds(1));
                AFUNIXSocket peer = backend.accept();
                FileInputStream passed = new FileInputStream("/dev/null")) {
            peer.setAncillaryReceiveBufferSize(1024);
            // A backend slow to read: the send buffer is full when the descriptor is sent.
            assertThatThrownBy(() -> {
                while (true) {
                    control.write(new byte[65_536], System.nanoTime() + Duration.ofMillis(50).toNanos());
                }
            }).isInstanceOf(DeadlinePassedException.class);
            CompletableFuture<Integer> descriptorsReceived = CompletableFuture.supplyAsync(() -> drainUntilToken(peer));
            byte[] token = new byte[HandoffToken.LENGTH];
            Arrays.fill(token, TOKEN_BYTE);
            control.sendDescriptor(passed.getFD(), HandoffToken.of(token),
                    System.nanoTime() + Duration.ofSeconds(5).toNanos());
            assertThat(descriptorsReceived.get(10, TimeUnit.SECONDS)).as("descriptors the backend received")
                    .isEqualTo(1);
        }
    }

    @Test
    void aListenerRunningAsAUidNotAllowedIsRefusedAtTheDialWithNothingSent() throws Exception {
        Path endpoint = dir.resolve("handoff.sock");
        long ours = ProcessUser.uid();
        long stranger = ours == 4242 ? 4243 : 4242;
        try (AFUNIXServerSocket backend = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(endpoint))) {
            assertThatThrownBy(() -> ControlConnection.dial(endpoint, Duration.ofSeconds(1), Set.of(stranger)))
                    .isInstanceOfSatisfying(PeerUidNotAllowedException.class, e -> {
                        assertThat(e.uid()).as("the uid the listener runs as").isEqualTo(ours);
                        assertThat(e.pid()).as("the process that listens").isEqualTo(ProcessHandle.current().pid());
                    })
                    .hasMessageContaining(endpoint.toString()).hasMessageContaining("uid " + ours)
                    .hasMessageContaining("[" + stranger + "]");
            try (AFUNIXSocket refused = backend.accept()) {
                refused.setSoTimeout(5_000);
                assertThat(refused.getInputStream().read()).as("closed by the broker with nothing sent").isEqualTo(-1);
            }
            // Allowed, or nothing pinned: kept.
            try (ControlConnection allowed = ControlConnection.dial(endpoint, Duration.ofSeconds(1),
                    Set.of(stranger, ours));
                    ControlConnection unpinned = ControlConnection.dial(endpoint, Duration.ofSeconds(1), Set.of())) {
                assertThat(allowed.isClean()).isTrue();
                assertThat(unpinned.isClean()).isTrue();
            }
        }
    }

    /** Reads, after a pause, until the token's bytes have come; returns the descriptors that came along. */
    private static int drainUntilToken(AFUNIXSocket peer) {
        try {
            Thread.sleep(30);
            InputStream in = peer.getInputStream();
            byte[] buffer = new byte[65_536];
            int tokenBytesInARow = 0;
            int descriptors = 0;
            while (tokenBytesInARow < HandoffToken.LENGTH) {
                int n = in.read(buffer);
                if (n < 0) {
                    throw new EOFException("the control connection ended before the token");
                }
                FileDescriptor[] received = peer.getReceivedFileDescriptors();
                if (received != null) {
                    descriptors += received.length;
                    for (FileDescriptor descriptor : received) {
                        Descriptors.closeReceived(descriptor);
                    }
                }
                for (int i = 0; i < n; i++) {
                    tokenBytesInARow = buffer[i] == TOKEN_BYTE ? tokenBytesInARow + 1 : 0;
                }
            }
            return descriptors;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
