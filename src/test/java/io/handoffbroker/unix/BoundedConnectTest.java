package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;

import io.handoffbroker.testing.DescriptorExhaustion;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

class BoundedConnectTest {

    @TempDir
    Path dir;

    @Test
    void aTimeoutBeyondWhatTheClockCanAddIsNoLimitNotAnError() throws Exception {
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(dir.resolve("listener.sock"));
        try (AFUNIXServerSocket listener = AFUNIXServerSocket.bindOn(address);
                AFUNIXSocket socket = BoundedConnect.connect(address, Duration.ofDays(400L * 365));
                AFUNIXSocket accepted = listener.accept()) {
            socket.getOutputStream().write(42);
            assertThat(accepted.getInputStream().read()).isEqualTo(42);
        }
    }

    @Test
    void aProcessOutOfDescriptorsIsToldSoNotThatTheListenerIsDown() throws Exception {
        Path path = dir.resolve("listener.sock");
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(path);
        try (AFUNIXServerSocket listener = AFUNIXServerSocket.bindOn(address)) {
            // Loaded while files can still be opened.
            BoundedConnect.connect(address, Duration.ofSeconds(1)).close();
            assertThat(SocketFile.isAnswering(path)).isTrue();
            assertThat(OutOfResourcesException.noSocket(null)).isNotNull();
            IOException connect = null;
            IOException probe = null;
            IOException answering = null;
            try (DescriptorExhaustion exhausted = DescriptorExhaustion.leaving(0)) {
                try {
                    BoundedConnect.connect(address, Duration.ofSeconds(1)).close();
                } catch (IOException e) {
                    connect = e;
                }
                try {
                    BoundedConnect.probe(address);
                } catch (IOException e) {
                    probe = e;
                }
                try {
                    SocketFile.isAnswering(path);
                } catch (IOException e) {
                    answering = e;
                }
            }
            // junixsocket alone said "Not open"; and a live socket file was taken for a stale one.
            assertThat(connect).isInstanceOf(OutOfResourcesException.class)
                    .hasMessageContaining("this process could not create a socket").hasMessageContaining("ulimit -n");
            assertThat(probe).isInstanceOf(OutOfResourcesException.class);
            assertThat(answering).as("not 'nobody answers'").isInstanceOf(OutOfResourcesException.class);
            BoundedConnect.connect(address, Duration.ofSeconds(1)).close();
        }
    }
}
