package io.handoffbroker.unix;

import static org.assertj.core.api.Assertions.assertThat;

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
}
